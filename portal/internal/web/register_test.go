package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// registration is a registration form for serial and postal code.
func registration(email, serial, postal string) url.Values {
	return url.Values{
		"name": {"Jean Picard"}, "address": {"500 rue Principale, Québec QC"}, "email": {email}, "phone": {"418 555 1234"},
		"serial": {serial}, "postal_code": {postal}, "terms": {"yes"},
	}
}

// TestRegister walks seed 000's registration: the form, the postal code
// that must match, the confirmation e-mail whose link leads to choosing a
// password, and the account's first user becoming its primary user.
func TestRegister(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvAt(t, be.url(t))
			a := e.newAccount("one", "G2G 2T9")
			ctx := context.Background()
			// The account's primary user is gone: the account has none.
			if err := e.st.RemoveMembership(ctx, a.primary.ID, a.ID, store.BySystem("test")); err != nil {
				t.Fatal(err)
			}
			b := e.browser()
			wantPage(t, b.get("/register"), http.StatusOK, "Inscription aux fournitures au compteur", `name="serial"`, `name="postal_code"`, `href="/terms"`)
			wantPage(t, b.get("/terms"), http.StatusOK, "Modalités d&#39;utilisation")
			wantPage(t, b.get("/login"), http.StatusOK, `href="/register"`)

			// Missing fields, each named.
			rec := b.post("/register", url.Values{"email": {"x"}})
			wantPage(t, rec, http.StatusBadRequest, "Entrez votre nom.", "Entrez votre adresse.", "Entrez une adresse courriel valide.",
				"Entrez votre numéro de téléphone.", "Entrez le numéro de série et le code postal.", "Cochez la case pour accepter les modalités.")

			// A postal code that is not the one on file: seed 000's error.
			form := registration("jpicard@abcco.example", a.device.Serial, "G2G 2T8")
			rec = b.post("/register", form)
			wantPage(t, rec, http.StatusUnprocessableEntity, "Vérifiez si le numéro de série entré est correct.",
				"doit correspondre exactement", `value="link_request"`, `value="Jean Picard"`)
			if strings.Contains(rec.Body.String(), "Company one") {
				t.Error("the error page shows the account of the serial")
			}
			wantPage(t, b.post("/register", registration("jpicard@abcco.example", "NOSUCHSERIAL", "G2G 2T9")), http.StatusUnprocessableEntity)

			// Spaces and case do not matter; the rest must match exactly.
			form = registration("JPicard@abcco.example", "  "+strings.ToLower(a.device.Serial)+" ", "g2g2t9")
			form.Set("read_contact", "yes")
			wantRedirect(t, b.post("/register", form), "/register?done=register_sent")
			wantPage(t, b.get("/register?done=register_sent"), http.StatusOK, "dans les 3 jours")
			m := onlyMessage(t, e.deliver())
			if m.To != "jpicard@abcco.example" || m.Subject != "Confirmation de votre adresse de courriel" || !strings.Contains(m.Text, "expirera dans un délai de 3 jours") {
				t.Errorf("confirmation e-mail: %s %q\n%s", m.To, m.Subject, m.Text)
			}
			link := pathOf(t, m.Link("/register/confirm?token="))
			if _, err := e.st.UserByEmail(ctx, "jpicard@abcco.example"); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("the user exists before confirming: %v", err)
			}

			// The link leads to choosing a password under the rules.
			page := b.get(link)
			wantPage(t, page, http.StatusOK, "Votre adresse jpicard@abcco.example est confirmée.", "compter au moins 12 caractères")
			token := formToken(t, page.Body.String())
			wantPage(t, b.post("/register/confirm", url.Values{"token": {token}, "password": {"jpicard@abcco.example"}, "confirm": {"jpicard@abcco.example"}}),
				http.StatusBadRequest, "être différent de votre adresse courriel")
			wantRedirect(t, b.post("/register/confirm", url.Values{"token": {token}, "password": {"Tr0mpette-bleue"}, "confirm": {"Tr0mpette-bleue"}}),
				"/dashboard?done=registered")
			wantPage(t, b.get("/dashboard?done=registered"), http.StatusOK, "vous êtes l&#39;utilisateur principal du compte", "Company one")
			wantPage(t, b.get("/equipment"), http.StatusOK, a.device.Serial)

			u, err := e.st.UserByEmail(ctx, "jpicard@abcco.example")
			if err != nil || u.Name != "Jean Picard" || u.Phone != "418 555 1234" || u.Address != "500 rue Principale, Québec QC" || u.Language != domain.LanguageFrench {
				t.Errorf("user = %+v, %v", u, err)
			}
			members, _ := e.st.Memberships(ctx, a.ID)
			if len(members) != 1 || members[0].UserID != u.ID || members[0].Role != domain.RolePrimary {
				t.Errorf("memberships = %+v, want the new user as primary", members)
			}
			dev, _ := e.st.AccountDeviceBySerial(ctx, a.ID, a.device.Serial)
			if dev.ReadContactID == nil || *dev.ReadContactID != u.ID {
				t.Errorf("the device's read contact = %v, want the new user", dev.ReadContactID)
			}
			welcome := onlyMessage(t, e.deliver())
			if welcome.To != u.Email || !strings.Contains(welcome.Text, a.CustomerNumber) {
				t.Errorf("welcome e-mail: %s\n%s", welcome.To, welcome.Text)
			}

			// The link works once; the password is the new one.
			wantPage(t, e.browser().get(link), http.StatusNotFound)
			wantRedirect(t, e.browser().post("/login", url.Values{"email": {u.Email}, "password": {"Tr0mpette-bleue"}}), "/dashboard")
		})
	}
}

// TestRegisterWhenTheAccountHasAPrimary: the newcomer gets an access of
// their own but not the account: its primary user is told, and the back
// office sees a request.
func TestRegisterWhenTheAccountHasAPrimary(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	b := e.browser()
	b.header.Set("Accept-Language", "en")
	wantRedirect(t, b.post("/register", registration("newcomer@abcco.example", a.device.Serial, "H2X 1Y4")), "/register?done=register_sent")
	m := onlyMessage(t, e.deliver())
	if m.Lang != "en" || m.Subject != "Confirm your e-mail address" {
		t.Errorf("confirmation e-mail in %s: %q", m.Lang, m.Subject)
	}
	token := formToken(t, b.get(pathOf(t, m.Link("/register/confirm"))).Body.String())
	wantRedirect(t, b.post("/register/confirm", url.Values{"token": {token}, "password": {"a new horse 22"}, "confirm": {"a new horse 22"}}),
		"/dashboard?done=registered_pending")
	wantPage(t, b.get("/dashboard?done=registered_pending"), http.StatusOK, "This account already has a primary user", "No account yet")
	wantPage(t, b.get("/equipment"), http.StatusForbidden)

	e.deliver()
	told := e.smtp.To(a.primary.Email)
	if len(told) != 1 || !strings.Contains(told[0].Text, "newcomer@abcco.example") || told[0].Link("/users") == "" || told[0].Lang != "fr" {
		t.Errorf("the primary was not told in French with a link to manage users: %+v", told)
	}
	reqs, err := e.st.BackOfficeOpenRequests(context.Background(), store.RequestSerialLink, 10)
	if err != nil || len(reqs) != 1 || reqs[0].Subject != store.LinkHasPrimary || reqs[0].Email != "newcomer@abcco.example" || reqs[0].AccountID == nil || *reqs[0].AccountID != a.ID {
		t.Errorf("link requests = %+v, %v", reqs, err)
	}
}

// TestRegisterNeverTellsWhichAddressesHaveAccounts: an address with an
// account gets the same page and an e-mail saying so, with no link that
// would create anything.
func TestRegisterNeverTellsWhichAddressesHaveAccounts(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	b := e.browser()
	known := b.post("/register", registration(a.primary.Email, a.device.Serial, "H2X 1Y4"))
	unknown := b.post("/register", registration("fresh@abcco.example", a.device.Serial, "H2X 1Y4"))
	if known.Code != unknown.Code || known.Header().Get("Location") != unknown.Header().Get("Location") || known.Body.String() != unknown.Body.String() {
		t.Errorf("a known and a new address answer differently: %d %q / %d %q", known.Code, known.Header().Get("Location"), unknown.Code, unknown.Header().Get("Location"))
	}
	e.deliver()
	got := e.smtp.To(a.primary.Email)
	if len(got) != 1 || got[0].Subject != "Vous avez déjà un compte Meterline" || got[0].Link("/register/confirm") != "" || got[0].Link("/login") == "" {
		t.Errorf("the known address got %+v", got)
	}
	if len(e.smtp.To("fresh@abcco.example")) != 1 {
		t.Error("the new address got no confirmation")
	}
}

// TestRegisterLinkRequest: with no match, the person may ask the back
// office to link the serial; the request is stored and acknowledged.
func TestRegisterLinkRequest(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	form := registration("jpicard@abcco.example", "ABC123456", "A9A 9A9")
	wantPage(t, b.post("/register", form), http.StatusUnprocessableEntity, "Demander l&#39;association du numéro de série")
	form.Set("action", "link_request")
	wantRedirect(t, b.post("/register", form), "/register?done=link_requested")
	wantPage(t, b.get("/register?done=link_requested"), http.StatusOK, "Votre demande d&#39;association est enregistrée.")
	m := onlyMessage(t, e.deliver())
	if m.To != "jpicard@abcco.example" || !strings.Contains(m.Subject, "ABC123456") || !strings.Contains(m.Text, "deux heures ouvrables") {
		t.Errorf("acknowledgement: %s %q\n%s", m.To, m.Subject, m.Text)
	}
	reqs, err := e.st.BackOfficeOpenRequests(context.Background(), store.RequestSerialLink, 10)
	if err != nil || len(reqs) != 1 || reqs[0].Subject != store.LinkNoMatch || reqs[0].Serial != "ABC123456" || reqs[0].PostalCode != "A9A9A9" ||
		reqs[0].Name != "Jean Picard" || reqs[0].Phone != "418 555 1234" || reqs[0].AccountID != nil {
		t.Errorf("link requests = %+v, %v", reqs, err)
	}
	// The request needs the form filled in, like a registration.
	wantPage(t, b.post("/register", url.Values{"action": {"link_request"}, "serial": {"ABC123456"}}), http.StatusBadRequest)
}

// TestRegisterLinkExpiresAfterThreeDays (seed 000).
func TestRegisterLinkExpiresAfterThreeDays(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	b := e.browser()
	b.post("/register", registration("late@abcco.example", a.device.Serial, "H2X 1Y4"))
	link := pathOf(t, onlyMessage(t, e.deliver()).Link("/register/confirm"))
	e.clock.Advance(72*time.Hour - time.Minute)
	token := formToken(t, b.get(link).Body.String())
	e.clock.Advance(time.Minute)
	wantPage(t, b.get(link), http.StatusNotFound, "Ce lien ne fonctionne plus")
	wantPage(t, b.post("/register/confirm", url.Values{"token": {token}, "password": {"a new horse 22"}, "confirm": {"a new horse 22"}}), http.StatusNotFound)
}

// TestRegisterTwiceConfirmedTwice: two links for one address; the second
// confirmed finds the account made and says so.
func TestRegisterTwiceConfirmedTwice(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	b := e.browser()
	b.post("/register", registration("twice@abcco.example", a.device.Serial, "H2X 1Y4"))
	b.post("/register", registration("twice@abcco.example", a.device.Serial, "H2X 1Y4"))
	msgs := e.deliver()
	if len(msgs) != 2 {
		t.Fatalf("%d e-mails", len(msgs))
	}
	for i, want := range []int{http.StatusSeeOther, http.StatusConflict} {
		c := e.browser()
		token := formToken(t, c.get(pathOf(t, msgs[i].Link("/register/confirm"))).Body.String())
		rec := c.post("/register/confirm", url.Values{"token": {token}, "password": {"a new horse 22"}, "confirm": {"a new horse 22"}})
		if rec.Code != want {
			t.Errorf("confirmation %d = %d, want %d", i+1, rec.Code, want)
		}
	}
}

// TestRegisterRateLimit: registrations are limited per client address.
func TestRegisterRateLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.Register = RateLimit{Window: time.Hour, PerEmail: 10, PerAddress: 2} })
	b := e.browser()
	for i := range 2 {
		wantPage(t, b.post("/register", registration("guess@abcco.example", "GUESS"+string(rune('A'+i)), "H2X 1Y4")), http.StatusUnprocessableEntity)
	}
	wantPage(t, b.post("/register", registration("guess@abcco.example", "GUESSC", "H2X 1Y4")), http.StatusTooManyRequests, "Trop de tentatives.")
	e.clock.Advance(time.Hour + time.Second)
	wantPage(t, b.post("/register", registration("guess@abcco.example", "GUESSD", "H2X 1Y4")), http.StatusUnprocessableEntity)
}

// TestRegisterPageOfASignedInUser goes to the dashboard.
func TestRegisterPageOfASignedInUser(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	b := e.browser()
	b.login(a.primary.Email)
	wantRedirect(t, b.get("/register"), "/dashboard")
}
