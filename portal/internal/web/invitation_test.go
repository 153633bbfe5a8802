package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// TestAcceptInvitationNewPerson: a person with no account follows the
// e-mailed link, sees the account, accepts, chooses a password on the
// set-password page and is signed in as a delegate; the primary is told;
// the link works once.
func TestAcceptInvitationNewPerson(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvAt(t, be.url(t))
			a := e.newAccount("one", "H2X 1Y4")
			pb := e.browser()
			pb.login(a.primary.Email)
			wantRedirect(t, pb.post("/users/invite", url.Values{"email": {"new.person@example.com"}}), "/users?done=invitation_sent")
			m := onlyMessage(t, e.deliver())
			if m.To != "new.person@example.com" || m.Lang != "fr" || !strings.Contains(m.Text, "Primary one") {
				t.Errorf("invitation e-mail %+v", m)
			}
			link := pathOf(t, m.Link(store.InvitationAcceptPath+"?token="))

			// Opening the link twice uses nothing.
			b := e.browser()
			wantPage(t, b.get(link), http.StatusOK, "Invitation à gérer un compte", "Primary one", "CN-one", "Company one", "new.person@example.com",
				`action="/invitations/accept"`)
			page := b.get(link)
			wantPage(t, page, http.StatusOK)
			token := formToken(t, page.Body.String())

			// Without the CSRF token: refused, still pending.
			wantPage(t, b.postRaw(store.InvitationAcceptPath, url.Values{"token": {token}}), http.StatusForbidden)
			if p, _ := e.st.PendingInvitations(context.Background(), a.ID); len(p) != 1 {
				t.Fatalf("a refused form used the invitation: %+v", p)
			}

			rec := b.post(store.InvitationAcceptPath, url.Values{"token": {token}})
			next := rec.Header().Get("Location")
			if rec.Code != http.StatusSeeOther || !strings.HasPrefix(next, "/password/reset?") || !strings.Contains(next, "done=invitation_password") {
				t.Fatalf("accept = %d to %q, want the set-password page", rec.Code, next)
			}
			if b.session() != "" {
				t.Error("accepting signed in before a password was chosen")
			}
			told := onlyMessage(t, e.deliver())
			if told.To != a.primary.Email || told.Lang != "fr" || !strings.Contains(told.Text, "new.person@example.com") {
				t.Errorf("the primary was told %+v", told)
			}

			// The set-password page, then signed in as the delegate.
			form := b.get(next)
			wantPage(t, form, http.StatusOK, "Invitation acceptée : vous êtes délégué du compte.", "compter au moins 12 caractères")
			wantRedirect(t, b.post("/password/reset", url.Values{"token": {formToken(t, form.Body.String())},
				"password": {"a new horse 22"}, "confirm": {"a new horse 22"}}), "/dashboard?done=password_set")
			wantPage(t, b.get("/dashboard"), http.StatusOK, "Company one", "délégué")
			wantPage(t, b.get("/equipment"), http.StatusOK, a.device.Serial)
			wantRedirect(t, e.browser().post("/login", url.Values{"email": {"new.person@example.com"}, "password": {"a new horse 22"}}), "/dashboard")
			wantPage(t, pb.get("/users"), http.StatusOK, "new.person@example.com", "Actif")

			// Used: the link and its form are dead, and say nothing more.
			for _, rec := range []*httptest.ResponseRecorder{e.browser().get(link), e.browser().post(store.InvitationAcceptPath, url.Values{"token": {token}})} {
				wantPage(t, rec, http.StatusNotFound, "Cette invitation ne fonctionne plus")
				if strings.Contains(rec.Body.String(), "Company one") {
					t.Error("a dead link shows the account")
				}
			}
			if msgs := e.deliver(); len(msgs) != 0 {
				t.Errorf("a second accept sent %+v", msgs)
			}
		})
	}
}

// TestAcceptInvitationBadLinks: a garbage, missing or expired token gets
// one page that says the link no longer works, and nothing happens.
func TestAcceptInvitationBadLinks(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	token := e.invite(&a, "late@example.com")
	b := e.browser()
	for _, target := range []string{store.InvitationAcceptPath, store.InvitationAcceptPath + "?token=garbage", store.InvitationAcceptPath + "?token=" + token + "x"} {
		wantPage(t, b.get(target), http.StatusNotFound, "Cette invitation ne fonctionne plus")
	}
	wantPage(t, b.post(store.InvitationAcceptPath, url.Values{"token": {"garbage"}}), http.StatusNotFound, "Cette invitation ne fonctionne plus")
	wantPage(t, b.get(store.InvitationAcceptPath+"?token="+url.QueryEscape(token)), http.StatusOK, "Company one")

	e.clock.Advance(7*24*time.Hour + time.Minute)
	for _, rec := range []*httptest.ResponseRecorder{b.get(store.InvitationAcceptPath + "?token=" + url.QueryEscape(token)),
		b.post(store.InvitationAcceptPath, url.Values{"token": {token}})} {
		wantPage(t, rec, http.StatusNotFound, "Cette invitation ne fonctionne plus")
		if strings.Contains(rec.Body.String(), "Company one") || strings.Contains(rec.Body.String(), "late@example.com") {
			t.Error("an expired link shows its invitation")
		}
	}
	if _, err := e.st.UserByEmail(context.Background(), "late@example.com"); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("an expired invitation made a user: %v", err)
	}
	wantPage(t, b.get(store.InvitationAcceptPath+"?token=x&lang=en"), http.StatusNotFound, "This invitation no longer works")
}

// TestAcceptInvitationExistingUser: a user with a password who is not
// signed in accepts and is asked to sign in, then finds the account among
// theirs; already a user of the account, the answer is a conflict and
// nothing changes.
func TestAcceptInvitationExistingUser(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	mine := e.newAccount("mine", "J3X 0E1")
	token := e.invite(&a, mine.primary.Email)

	b := e.browser()
	wantRedirect(t, b.post(store.InvitationAcceptPath, url.Values{"token": {token}}), "/login?done=invitation_sign_in&next=%2Faccounts")
	wantPage(t, b.get("/login?done=invitation_sign_in&next=%2Faccounts"), http.StatusOK, "Invitation acceptée : connectez-vous", `value="/accounts"`)
	wantRedirect(t, b.post("/login", url.Values{"email": {mine.primary.Email}, "password": {testPassword}, "next": {"/accounts"}}), "/accounts")
	wantPage(t, b.get("/accounts"), http.StatusOK, "Company mine", "Company one", `action="/accounts/`+id(a.ID)+`/current"`)

	// Invited again while already a delegate: 409, the invitation stays.
	other := e.newUser("other@example.com", "Other")
	token = e.invite(&a, other.Email)
	e.addRole(other, a.ID, domain.RoleDelegate)
	wantPage(t, e.browser().post(store.InvitationAcceptPath, url.Values{"token": {token}}), http.StatusConflict, "Rien n&#39;a été changé.")
	if _, err := e.st.OpenInvitation(context.Background(), token); err != nil {
		t.Errorf("a refused accept used the invitation: %v", err)
	}
}

// TestAcceptInvitationOfSomeoneElse: a user signed in who follows another
// person's invitation (of an account not theirs) is warned, and accepting
// makes the invited person a delegate, never the visitor.
func TestAcceptInvitationOfSomeoneElse(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	stranger := e.newAccount("two", "J3X 0E1")
	invited := e.newUser("invited@example.com", "Invited")
	token := e.invite(&a, invited.Email)

	b := e.browser()
	b.login(stranger.primary.Email)
	link := store.InvitationAcceptPath + "?token=" + url.QueryEscape(token)
	wantPage(t, b.get(link), http.StatusOK, "Vous êtes connecté en tant que "+stranger.primary.Email)
	wantPage(t, b.post(store.InvitationAcceptPath, url.Values{"token": {token}}), http.StatusOK, "Invitation acceptée", "invited@example.com")
	page := b.get("/accounts").Body.String()
	if strings.Contains(page, "Company one") {
		t.Error("the visitor got the invited person's account")
	}
	wantPage(t, b.post("/accounts/"+id(a.ID)+"/current", nil), http.StatusNotFound)
	accounts, err := e.st.AccountsUserMayOrderFor(context.Background(), invited.ID)
	if err != nil || len(accounts) != 1 || accounts[0].ID != a.ID || accounts[0].Role != domain.RoleDelegate {
		t.Errorf("the invited person's accounts = %+v, %v", accounts, err)
	}
}
