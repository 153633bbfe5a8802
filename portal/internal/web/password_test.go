package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/mail/mailtest"
)

// onlyMessage fails unless exactly one message arrived, and returns it.
func onlyMessage(t *testing.T, msgs []mailtest.Message) mailtest.Message {
	t.Helper()
	if len(msgs) != 1 {
		t.Fatalf("%d e-mails arrived, want 1: %+v", len(msgs), msgs)
	}
	return msgs[0]
}

// pathOf is the path and query of an e-mailed link, which must start with
// the portal's public address.
func pathOf(t *testing.T, link string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(link, testBaseURL)
	if !ok {
		t.Fatalf("link %q does not start with the public address %s", link, testBaseURL)
	}
	return rest
}

// TestPasswordReset: the link arrives by e-mail, works once, within the
// hour, sets a password under the rules, ends every other session and
// signs the user in.
func TestPasswordReset(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvAt(t, be.url(t))
			a := e.newAccount("one", "H2X 1Y4")
			elsewhere := e.browser()
			elsewhere.login(a.primary.Email)

			b := e.browser()
			wantPage(t, b.get("/password/forgot"), http.StatusOK, "Mot de passe oublié")
			wantPage(t, b.post("/password/forgot", url.Values{"email": {"not an address"}}), http.StatusBadRequest, "Entrez une adresse courriel valide.")
			wantRedirect(t, b.post("/password/forgot", url.Values{"email": {strings.ToUpper(a.primary.Email)}}), "/password/forgot?done=reset_sent")
			wantPage(t, b.get("/password/forgot?done=reset_sent"), http.StatusOK, "vérifiez votre boîte de réception")
			m := onlyMessage(t, e.deliver())
			if m.To != a.primary.Email || m.Subject != "Choisir un nouveau mot de passe Meterline" || m.Lang != "fr" {
				t.Errorf("reset e-mail to %s, %q, %s", m.To, m.Subject, m.Lang)
			}
			link := pathOf(t, m.Link("/password/reset?token="))
			if !strings.Contains(m.HTML, `href="`+testBaseURL+"/password/reset?token=") {
				t.Error("the HTML part lacks the link")
			}

			// The form states the rules; opening it twice uses nothing.
			form := b.get(link)
			wantPage(t, form, http.StatusOK, "compter au moins 12 caractères", "être différent de votre adresse courriel")
			wantPage(t, b.get(link), http.StatusOK)
			token := formToken(t, form.Body.String())

			// Rules and confirmation.
			for _, tc := range []struct{ pw, confirm, want string }{
				{"short 1", "short 1", "compter au moins 12 caractères"},
				{"motdepasse2024", "motdepasse2024", "ne pas être un mot de passe courant"},
				{a.primary.Email, a.primary.Email, "être différent de votre adresse courriel"},
				{"a new horse 22", "a new horse 23", "Les deux mots de passe ne sont pas identiques."},
			} {
				wantPage(t, b.post("/password/reset", url.Values{"token": {token}, "password": {tc.pw}, "confirm": {tc.confirm}}), http.StatusBadRequest, tc.want)
			}
			wantRedirect(t, b.post("/password/reset", url.Values{"token": {token}, "password": {"a new horse 22"}, "confirm": {"a new horse 22"}}), "/dashboard?done=password_set")
			wantPage(t, b.get("/dashboard?done=password_set"), http.StatusOK, "Votre mot de passe est enregistré.", "Company one")

			// The other browser is signed out; the old password is dead.
			wantRedirect(t, elsewhere.get("/dashboard"), "/login?next=%2Fdashboard")
			wantPage(t, e.browser().post("/login", url.Values{"email": {a.primary.Email}, "password": {testPassword}}), http.StatusUnauthorized)
			wantRedirect(t, e.browser().post("/login", url.Values{"email": {a.primary.Email}, "password": {"a new horse 22"}}), "/dashboard")

			// The link works once.
			wantPage(t, e.browser().get(link), http.StatusNotFound, "Ce lien ne fonctionne plus")
			wantPage(t, e.browser().post("/password/reset", url.Values{"token": {token}, "password": {"another horse 3"}, "confirm": {"another horse 3"}}),
				http.StatusNotFound, "Ce lien ne fonctionne plus")
			wantPage(t, e.browser().get("/password/reset?token=made-up"), http.StatusNotFound)
		})
	}
}

// TestPasswordResetExpires: a reset link is dead after an hour.
func TestPasswordResetExpires(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	b := e.browser()
	b.post("/password/forgot", url.Values{"email": {a.primary.Email}})
	link := pathOf(t, onlyMessage(t, e.deliver()).Link("/password/reset"))
	token := formToken(t, b.get(link).Body.String())
	e.clock.Advance(time.Hour)
	wantPage(t, b.get(link), http.StatusNotFound, "Ce lien ne fonctionne plus")
	wantPage(t, b.post("/password/reset", url.Values{"token": {token}, "password": {"a new horse 22"}, "confirm": {"a new horse 22"}}), http.StatusNotFound)
}

// TestPasswordResetTellsNoOneWhichAddressesHaveAccounts: an address
// without an account gets the same page, and a notice by e-mail instead of
// a link; requests are limited per address with the same page either way.
func TestPasswordResetTellsNoOneWhichAddressesHaveAccounts(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.Reset = RateLimit{Window: time.Hour, PerEmail: 2, PerAddress: 100} })
	a := e.newAccount("one", "H2X 1Y4")
	b := e.browser()
	known := b.post("/password/forgot", url.Values{"email": {a.primary.Email}})
	unknown := b.post("/password/forgot", url.Values{"email": {"nobody@example.com"}})
	if known.Code != unknown.Code || known.Header().Get("Location") != unknown.Header().Get("Location") || known.Body.String() != unknown.Body.String() {
		t.Errorf("known and unknown addresses answer differently: %d %q / %d %q", known.Code, known.Header().Get("Location"), unknown.Code, unknown.Header().Get("Location"))
	}
	msgs := e.deliver()
	if len(msgs) != 2 {
		t.Fatalf("%d e-mails, want the link and the notice", len(msgs))
	}
	notice := e.smtp.To("nobody@example.com")
	if len(notice) != 1 || !strings.Contains(notice[0].Text, "Aucun compte n'utilise cette adresse") || notice[0].Link("/password/reset") != "" {
		t.Errorf("the notice to an address without an account: %+v", notice)
	}

	b.post("/password/forgot", url.Values{"email": {a.primary.Email}})
	b.post("/password/forgot", url.Values{"email": {"nobody@example.com"}})
	k := b.post("/password/forgot", url.Values{"email": {a.primary.Email}})
	u := b.post("/password/forgot", url.Values{"email": {"nobody@example.com"}})
	wantPage(t, k, http.StatusTooManyRequests, "Trop de tentatives.")
	wantPage(t, u, http.StatusTooManyRequests, "Trop de tentatives.")
	if strip(k.Body.String(), a.primary.Email) != strip(u.Body.String(), "nobody@example.com") {
		t.Error("the limited pages differ")
	}
	if got := len(e.deliver()); got != 2 {
		t.Errorf("%d e-mails within the limit, want 2", got)
	}
}

// TestProfile: name, phone and language are the user's; the language is
// the user's from then on, whatever the browser says.
func TestProfile(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	b := e.browser()
	b.header.Set("Accept-Language", "fr")
	b.login(a.primary.Email)
	wantPage(t, b.get("/profile"), http.StatusOK, "Mon profil", a.primary.Email, "Primary one")
	wantPage(t, b.post("/profile", url.Values{"name": {""}, "language": {"en"}}), http.StatusBadRequest, "Entrez votre nom et choisissez une langue.")
	wantPage(t, b.post("/profile", url.Values{"name": {"Jean"}, "language": {"de"}}), http.StatusBadRequest)
	wantRedirect(t, b.post("/profile", url.Values{"name": {"Jean Picard"}, "phone": {"418 555 1234"}, "language": {"en"}}), "/profile?done=profile_saved")
	wantPage(t, b.get("/profile?done=profile_saved"), http.StatusOK, `<html lang="en">`, "Your profile is saved.", "Jean Picard", "418 555 1234")
	wantPage(t, b.get("/dashboard"), http.StatusOK, `<html lang="en">`, "Order supplies")

	// The header's language switch saves the choice and comes back.
	wantRedirect(t, b.post("/language", url.Values{"lang": {"fr"}, "back": {"/equipment"}}), "/equipment")
	wantPage(t, b.get("/dashboard"), http.StatusOK, `<html lang="fr">`)
	wantRedirect(t, b.post("/language", url.Values{"lang": {"en"}, "back": {"//evil.example"}}), "/")
	wantPage(t, b.post("/language", url.Values{"lang": {"de"}}), http.StatusBadRequest)
}

// TestChangePassword: the current password is required; the new one
// follows the rules; other sessions end, this one goes on.
func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	other := e.browser()
	other.login(a.primary.Email)
	b := e.browser()
	b.login(a.primary.Email)
	wantPage(t, b.post("/profile/password", url.Values{"current": {"wrong one 1"}, "password": {"a new horse 22"}, "confirm": {"a new horse 22"}}),
		http.StatusBadRequest, "Le mot de passe actuel est incorrect.")
	wantPage(t, b.post("/profile/password", url.Values{"current": {testPassword}, "password": {"short"}, "confirm": {"short"}}),
		http.StatusBadRequest, "compter au moins 12 caractères")
	wantRedirect(t, b.post("/profile/password", url.Values{"current": {testPassword}, "password": {"a new horse 22"}, "confirm": {"a new horse 22"}}),
		"/profile?done=password_changed")
	wantPage(t, b.get("/profile?done=password_changed"), http.StatusOK, "Vos autres sessions ont été fermées.")
	wantRedirect(t, other.get("/dashboard"), "/login?next=%2Fdashboard")
	wantRedirect(t, e.browser().post("/login", url.Values{"email": {a.primary.Email}, "password": {"a new horse 22"}}), "/dashboard")
}

// TestChangeEmail: the new address is the user's only once its link is
// followed; the old address is told; an address that has an account gets
// a notice and the page reads the same.
func TestChangeEmail(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	taken := e.newUser("taken@example.com", "Taken")
	b := e.browser()
	b.login(a.primary.Email)

	wantPage(t, b.post("/profile/email", url.Values{"email": {"new@example.com"}, "current": {"wrong one 1"}}), http.StatusBadRequest, "Le mot de passe actuel est incorrect.")
	wantPage(t, b.post("/profile/email", url.Values{"email": {"nope"}, "current": {testPassword}}), http.StatusBadRequest, "Entrez une adresse courriel valide.")
	free := b.post("/profile/email", url.Values{"email": {"new@example.com"}, "current": {testPassword}})
	used := b.post("/profile/email", url.Values{"email": {taken.Email}, "current": {testPassword}})
	wantRedirect(t, free, "/profile?done=email_sent")
	wantRedirect(t, used, "/profile?done=email_sent")
	e.deliver()
	if n := e.smtp.To(a.primary.Email); len(n) != 2 || !strings.Contains(n[0].Text, "new@example.com") {
		t.Errorf("notices to the old address: %+v", n)
	}
	if n := e.smtp.To(taken.Email); len(n) != 1 || n[0].Link("/email/confirm") != "" {
		t.Errorf("the taken address got %+v, want a notice without a link", n)
	}
	confirm := e.smtp.To("new@example.com")
	if len(confirm) != 1 {
		t.Fatalf("the new address got %d e-mails", len(confirm))
	}
	link := pathOf(t, confirm[0].Link("/email/confirm"))

	// Until confirmed, nothing changed.
	wantPage(t, b.get("/profile"), http.StatusOK, a.primary.Email)
	page := b.get(link)
	wantPage(t, page, http.StatusOK, "Votre adresse courriel deviendra new@example.com.")
	wantRedirect(t, b.post("/email/confirm", url.Values{"token": {formToken(t, page.Body.String())}}), "/profile?done=email_changed")
	wantPage(t, b.get("/profile"), http.StatusOK, "new@example.com")
	wantRedirect(t, e.browser().post("/login", url.Values{"email": {"new@example.com"}, "password": {testPassword}}), "/dashboard")
	wantPage(t, b.get(link), http.StatusNotFound)
}

// TestChangeEmailLinkExpires after a day.
func TestChangeEmailLinkExpires(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	b := e.browser()
	b.login(a.primary.Email)
	b.post("/profile/email", url.Values{"email": {"new@example.com"}, "current": {testPassword}})
	e.deliver()
	link := pathOf(t, onlyMessage(t, e.smtp.To("new@example.com")).Link("/email/confirm"))
	e.clock.Advance(24 * time.Hour)
	wantPage(t, b.get(link), http.StatusNotFound)
}
