package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// TestAccountsMayOrderFor: the page lists the accounts where the user is
// primary or delegate, with the role; switching makes the pages show the
// other account; a delegate withdraws after a confirmation, the primary
// is told in their language, and the account is gone at once.
func TestAccountsMayOrderFor(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvAt(t, be.url(t))
			ctx := context.Background()
			a := e.newAccount("one", "H2X 1Y4")
			two := e.newAccount("two", "J3X 0E1")
			foreign := e.newAccount("three", "G1K 3J4")
			if _, err := e.st.UpdateProfile(ctx, two.primary.ID, store.Profile{Name: two.primary.Name, Language: domain.LanguageEnglish}); err != nil {
				t.Fatal(err)
			}
			e.addRole(a.primary, two.ID, domain.RoleDelegate)

			b := e.browser()
			b.login(a.primary.Email)
			wantPage(t, b.get("/dashboard"), http.StatusOK, `href="/accounts"`)
			page := b.get("/accounts")
			wantPage(t, page, http.StatusOK, "Comptes délégués", "Company one", "CN-one", "Utilisateur principal", "Company two", "CN-two", "Délégué",
				`action="/accounts/`+id(two.ID)+`/current"`, `href="/accounts/`+id(two.ID)+`/withdraw"`)
			for _, s := range []string{`action="/accounts/` + id(a.ID) + `/current"`, `href="/accounts/` + id(a.ID) + `/withdraw"`, "Company three"} {
				if strings.Contains(page.Body.String(), s) {
					t.Errorf("the page offers %s", s)
				}
			}

			// Switching: every page is the other account's.
			wantRedirect(t, b.post("/accounts/"+id(two.ID)+"/current", nil), "/dashboard")
			wantPage(t, b.get("/dashboard"), http.StatusOK, "Company two")
			wantPage(t, b.get("/equipment"), http.StatusOK, two.device.Serial)
			wantPage(t, b.get("/users"), http.StatusOK, two.primary.Email, `href="/accounts/`+id(two.ID)+`/withdraw"`)
			wantPage(t, b.get("/accounts"), http.StatusOK, `action="/accounts/`+id(a.ID)+`/current"`)

			// Withdrawing: only from an account one is a delegate of.
			for _, acc := range []string{id(a.ID), id(foreign.ID), "999999", "x"} {
				wantPage(t, b.get("/accounts/"+acc+"/withdraw"), http.StatusNotFound)
				wantPage(t, b.post("/accounts/"+acc+"/withdraw", nil), http.StatusNotFound)
			}
			wantPage(t, b.get("/accounts/"+id(two.ID)+"/withdraw"), http.StatusOK, "Me retirer d&#39;un compte", "CN-two", `action="/accounts/`+id(two.ID)+`/withdraw"`)
			wantPage(t, b.postRaw("/accounts/"+id(two.ID)+"/withdraw", nil), http.StatusForbidden, "Ce formulaire a expiré")
			if msgs := e.deliver(); len(msgs) != 0 {
				t.Fatalf("e-mails before the withdrawal: %+v", msgs)
			}
			wantRedirect(t, b.post("/accounts/"+id(two.ID)+"/withdraw", nil), "/accounts?done=withdrew")
			page = b.get("/accounts?done=withdrew")
			wantPage(t, page, http.StatusOK, "Vous vous êtes retiré du compte.", "Company one")
			if strings.Contains(page.Body.String(), "Company two") {
				t.Error("the account withdrawn from is still listed")
			}
			m := onlyMessage(t, e.deliver())
			if m.To != two.primary.Email || m.Lang != "en" || !strings.Contains(m.Text, a.primary.Email) {
				t.Errorf("the primary was told %+v", m)
			}
			// The session acts for the account left.
			wantPage(t, b.get("/equipment"), http.StatusOK, a.device.Serial)
			wantPage(t, b.post("/accounts/"+id(two.ID)+"/current", nil), http.StatusNotFound)
			wantPage(t, b.post("/accounts/"+id(two.ID)+"/withdraw", nil), http.StatusNotFound)
		})
	}
}

// TestAccountsNone: a user who acts for no account is told so.
func TestAccountsNone(t *testing.T) {
	e := newEnv(t)
	u := e.newUser("loner@example.com", "Loner")
	b := e.browser()
	b.login(u.Email)
	wantPage(t, b.get("/accounts"), http.StatusOK, "Aucun compte pour l&#39;instant")
	wantPage(t, b.get("/accounts?lang=en"), http.StatusOK, "No account yet")
	wantRedirect(t, e.browser().get("/accounts"), "/login?next=%2Faccounts")
}
