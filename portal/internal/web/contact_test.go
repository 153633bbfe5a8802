package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// TestContact: the form needs a subject and a message within their
// lengths; a message sent is stored for the back office and e-mailed to
// its address in the writer's language, with the writer's address; then a
// page confirms it.
func TestContact(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvAt(t, be.url(t))
			ctx := context.Background()
			a := e.newAccount("one", "H2X 1Y4")
			b := e.browser()
			b.login(a.primary.Email)
			wantPage(t, b.get("/dashboard"), http.StatusOK, `href="/contact"`)
			wantPage(t, b.get("/contact"), http.StatusOK, "Contactez-nous", a.primary.Email, `maxlength="200"`, `maxlength="5000"`, `action="/contact"`)

			// Refusals keep what was typed and send nothing.
			for _, tc := range []struct {
				name          string
				subject, body string
				want          []string
			}{
				{"empty", "", "", []string{"Entrez l&#39;objet du message.", "Entrez votre message."}},
				{"blank", "   ", "\r\n \t", []string{"Entrez l&#39;objet du message.", "Entrez votre message."}},
				{"no message", "Toner", "", []string{"Entrez votre message."}},
				{"subject too long", strings.Repeat("é", 201), "Bonjour", []string{"L&#39;objet compte au plus 200 caractères (il en a 201)."}},
				{"message too long", "Toner", strings.Repeat("x", 5001), []string{"Le message compte au plus 5000 caractères (il en a 5001)."}},
				{"huge message", "Toner", strings.Repeat("x", 100000), []string{"Le message compte au plus 5000 caractères (il en a 100000)."}},
				{"two-line subject", "Toner\nurgent", "Bonjour", []string{"L&#39;objet tient sur une ligne"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					wantPage(t, b.post("/contact", url.Values{"subject": {tc.subject}, "body": {tc.body}}), http.StatusBadRequest, tc.want...)
				})
			}
			wantPage(t, b.postRaw("/contact", url.Values{"subject": {"Toner"}, "body": {"Bonjour"}}), http.StatusForbidden, "Ce formulaire a expiré")
			if msgs := e.deliver(); len(msgs) != 0 {
				t.Fatalf("a refused form sent %+v", msgs)
			}

			// At the limits (characters, a browser's CRLF counting as one
			// as its maxlength does), it goes.
			subject := strings.Repeat("é", 199) + "!"
			body := "Bonjour,\r\n" + strings.Repeat("x", 4990)
			wantRedirect(t, b.post("/contact", url.Values{"subject": {subject}, "body": {body}}), "/contact/sent")
			wantPage(t, b.get("/contact/sent"), http.StatusOK, "Message envoyé", a.primary.Email)
			m := onlyMessage(t, e.deliver())
			if m.To != testBackOffice || m.Lang != "fr" || !strings.Contains(m.Subject, "compte CN-one") || !strings.Contains(m.Subject, subject) ||
				!strings.Contains(m.Text, "Bonjour,") || !strings.Contains(m.Text, a.primary.Email) {
				t.Errorf("e-mail to the back office: %s %s %q\n%s", m.To, m.Lang, m.Subject, m.Text)
			}
			open, err := e.st.BackOfficeOpenRequests(ctx, store.RequestContact, 10)
			if err != nil || len(open) != 1 || open[0].Subject != subject || open[0].AccountID == nil || *open[0].AccountID != a.ID ||
				open[0].Body != "Bonjour,\n"+strings.Repeat("x", 4990) {
				t.Errorf("stored requests = %+v, %v", open, err)
			}

			// A delegate writing in English: the e-mail is in English.
			d := e.newUser("delegate@example.com", "Delegate")
			if _, err := e.st.UpdateProfile(ctx, d.ID, store.Profile{Name: d.Name, Language: domain.LanguageEnglish}); err != nil {
				t.Fatal(err)
			}
			e.addRole(d, a.ID, domain.RoleDelegate)
			db := e.browser()
			db.login(d.Email)
			wantPage(t, db.get("/contact"), http.StatusOK, "Contact us", "We will answer by e-mail at delegate@example.com")
			wantRedirect(t, db.post("/contact", url.Values{"subject": {"Missing toner"}, "body": {"Hello"}}), "/contact/sent")
			m = onlyMessage(t, e.deliver())
			if m.To != testBackOffice || m.Lang != "en" || !strings.Contains(m.Subject, "Missing toner") || !strings.Contains(m.Text, "delegate@example.com") {
				t.Errorf("e-mail to the back office: %s %s %q", m.To, m.Lang, m.Subject)
			}
		})
	}
}

// TestContactNeedsAnAccount: the form is a member's: anonymous visitors
// sign in, a user with no account is refused.
func TestContactNeedsAnAccount(t *testing.T) {
	e := newEnv(t)
	wantRedirect(t, e.browser().get("/contact"), "/login?next=%2Fcontact")
	u := e.newUser("loner@example.com", "Loner")
	b := e.browser()
	b.login(u.Email)
	wantPage(t, b.get("/contact"), http.StatusForbidden)
	wantPage(t, b.post("/contact", url.Values{"subject": {"x"}, "body": {"y"}}), http.StatusForbidden)
	if msgs := e.deliver(); len(msgs) != 0 {
		t.Errorf("sent %+v", msgs)
	}
}

// TestContactUnconfigured: without a back-office address the form says
// it is out of service instead of losing the message.
func TestContactUnconfigured(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.BackOfficeEmail = "" })
	a := e.newAccount("one", "H2X 1Y4")
	b := e.browser()
	b.login(a.primary.Email)
	wantPage(t, b.post("/contact", url.Values{"subject": {"Toner"}, "body": {"Bonjour"}}), http.StatusServiceUnavailable, "hors service")
	if _, err := New(Options{Store: e.st, BaseURL: testBaseURL, BackOfficeEmail: "Support <a@b.c>, d@e.f"}); err == nil {
		t.Error("New took two back-office addresses")
	}
}
