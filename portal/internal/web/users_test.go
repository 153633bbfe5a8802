package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/mail/mailtest"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// invite has the primary of a invite email as a delegate, as the page
// does, records the pending invitation in a.invitation and returns the
// token of its link.
func (e *env) invite(a *testAccount, email string) string {
	e.t.Helper()
	inv, token, err := e.st.InviteDelegate(context.Background(), store.DelegateInvite{AccountID: a.ID, InviterID: a.primary.ID, Email: email,
		TTL: 7 * 24 * time.Hour, BaseURL: testBaseURL})
	if err != nil {
		e.t.Fatal(err)
	}
	a.invitation = inv
	return token
}

// mailTo returns the only e-mail of msgs sent to addr.
func mailTo(t *testing.T, msgs []mailtest.Message, addr string) mailtest.Message {
	t.Helper()
	var found []mailtest.Message
	for _, m := range msgs {
		if strings.EqualFold(m.To, addr) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d e-mails to %s, want 1, among %+v", len(found), addr, msgs)
	}
	return found[0]
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// TestManageUsers: the primary sees the account's primary and delegates
// (not the back office) and the pending invitations; invites by e-mail up
// to two delegates, pending invitations counted, with a clear refusal
// beyond; cancels an invitation (its link dies); removes a delegate after
// a confirmation, who is out at once.
func TestManageUsers(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvAt(t, be.url(t))
			a := e.newAccount("one", "H2X 1Y4")
			staff := e.newUser("staff@supplier.example", "Staff Member")
			e.addRole(staff, a.ID, domain.RoleBackOffice)
			english := e.newUser("known@example.com", "Known User")
			if _, err := e.st.UpdateProfile(context.Background(), english.ID, store.Profile{Name: english.Name, Language: domain.LanguageEnglish}); err != nil {
				t.Fatal(err)
			}

			b := e.browser()
			b.login(a.primary.Email)
			page := b.get("/users")
			wantPage(t, page, http.StatusOK, "Gérer les utilisateurs", a.primary.Email, "Utilisateur principal", "limite de 2 délégués",
				`action="/users/invite"`, "Ajouter un utilisateur autorisé")
			if strings.Contains(page.Body.String(), staff.Email) {
				t.Error("the page lists a back-office user")
			}

			// Two invitations: a new address (the account's French) and a
			// user's (their English).
			wantPage(t, b.post("/users/invite", url.Values{"email": {"not an address"}}), http.StatusBadRequest, "Entrez une adresse courriel valide.")
			wantRedirect(t, b.post("/users/invite", url.Values{"email": {" New.Delegate@Example.com "}}), "/users?done=invitation_sent")
			wantPage(t, b.post("/users/invite", url.Values{"email": {"new.delegate@example.com"}}), http.StatusConflict, "déjà une invitation en attente")
			wantPage(t, b.post("/users/invite", url.Values{"email": {a.primary.Email}}), http.StatusConflict, "déjà accès à ce compte")
			wantRedirect(t, b.post("/users/invite", url.Values{"email": {english.Email}}), "/users?done=invitation_sent")
			page = b.get("/users?done=invitation_sent")
			wantPage(t, page, http.StatusOK, "Invitation envoyée.", "Invitations en attente de réponse", "new.delegate@example.com", english.Email,
				"Ce compte a déjà ses 2 délégués")
			if strings.Contains(page.Body.String(), `action="/users/invite"`) {
				t.Error("the invitation form is offered at the limit")
			}

			// A third is refused, clearly, and sends nothing.
			wantPage(t, b.post("/users/invite", url.Values{"email": {"third@example.com"}}), http.StatusConflict,
				"Limite atteinte : un compte a au plus 2 délégués, invitations en attente comprises.")
			msgs := e.deliver()
			if len(msgs) != 2 {
				t.Fatalf("%d e-mails, want the 2 invitations: %+v", len(msgs), msgs)
			}
			fr, en := mailTo(t, msgs, "new.delegate@example.com"), mailTo(t, msgs, english.Email)
			if fr.Lang != "fr" || !strings.Contains(fr.Subject, "vous invite à gérer le compte CN-one") || en.Lang != "en" {
				t.Errorf("invitations: %q in %s, %q in %s", fr.Subject, fr.Lang, en.Subject, en.Lang)
			}
			frLink := pathOf(t, fr.Link(store.InvitationAcceptPath+"?token="))
			wantPage(t, e.browser().get(frLink), http.StatusOK, "Company one", "CN-one", "new.delegate@example.com")

			// Cancelling frees a place; the cancelled link is dead.
			pending, err := e.st.PendingInvitations(context.Background(), a.ID)
			if err != nil || len(pending) != 2 {
				t.Fatalf("pending = %+v, %v", pending, err)
			}
			wantRedirect(t, b.post("/users/invitations/"+id(pending[0].ID)+"/cancel", nil), "/users?done=invitation_cancelled")
			wantPage(t, b.post("/users/invitations/"+id(pending[0].ID)+"/cancel", nil), http.StatusNotFound)
			wantPage(t, e.browser().get(frLink), http.StatusNotFound, "Cette invitation ne fonctionne plus")
			wantPage(t, b.get("/users?done=invitation_cancelled"), http.StatusOK, "Invitation annulée", `action="/users/invite"`)

			// The English user accepts (by the e-mailed link, signed in):
			// the primary is told in French, and sees an active delegate.
			db := e.browser()
			db.login(english.Email)
			enLink := pathOf(t, en.Link(store.InvitationAcceptPath+"?token="))
			wantPage(t, db.get(enLink), http.StatusOK, "Invitation to manage an account", "Company one")
			wantRedirect(t, db.post(store.InvitationAcceptPath, url.Values{"token": {formToken(t, db.get(enLink).Body.String())}}), "/dashboard?done=invitation_accepted")
			wantPage(t, db.get("/dashboard?done=invitation_accepted"), http.StatusOK, "you now act for this account", "Company one")
			told := onlyMessage(t, e.deliver())
			if told.To != a.primary.Email || told.Lang != "fr" || !strings.Contains(told.Text, english.Email) {
				t.Errorf("the primary was told %+v", told)
			}
			wantPage(t, b.get("/users"), http.StatusOK, "Known User", "Délégué", "Actif", `href="/users/`+id(english.ID)+`/remove"`)
			wantRedirect(t, b.post("/users/invite", url.Values{"email": {"later@example.com"}}), "/users?done=invitation_sent")

			// The delegate sees the list and how to withdraw, no action of
			// the primary's, and may take none.
			page = db.get("/users")
			wantPage(t, page, http.StatusOK, "Manage users", a.primary.Email, `href="/accounts/`+id(a.ID)+`/withdraw"`, "Only the account&#39;s primary user")
			for _, s := range []string{`action="/users/invite"`, "/remove", "/cancel"} {
				if strings.Contains(page.Body.String(), s) {
					t.Errorf("a delegate is offered %s", s)
				}
			}
			pending, _ = e.st.PendingInvitations(context.Background(), a.ID)
			for _, r := range []struct{ method, path string }{
				{http.MethodPost, "/users/invite"},
				{http.MethodPost, "/users/invitations/" + id(pending[0].ID) + "/cancel"},
				{http.MethodGet, "/users/" + id(a.primary.ID) + "/remove"},
				{http.MethodPost, "/users/" + id(a.primary.ID) + "/remove"},
				{http.MethodPost, "/users/" + id(english.ID) + "/remove"},
			} {
				var rec = db.get(r.path)
				if r.method == http.MethodPost {
					rec = db.post(r.path, url.Values{"email": {"mallory@example.com"}})
				}
				wantPage(t, rec, http.StatusForbidden, "Only the account&#39;s primary user can do this.")
			}
			if p, _ := e.st.PendingInvitations(context.Background(), a.ID); len(p) != 1 {
				t.Errorf("a delegate changed the invitations: %+v", p)
			}

			// Removing: the primary is no delegate, nor is a stranger.
			wantPage(t, b.get("/users/"+id(a.primary.ID)+"/remove"), http.StatusNotFound)
			wantPage(t, b.get("/users/"+id(staff.ID)+"/remove"), http.StatusNotFound)
			wantPage(t, b.post("/users/x/remove", nil), http.StatusNotFound)
			wantPage(t, b.get("/users/"+id(english.ID)+"/remove"), http.StatusOK, "Enlever un délégué", english.Email, `action="/users/`+id(english.ID)+`/remove"`)
			wantRedirect(t, b.post("/users/"+id(english.ID)+"/remove", nil), "/users?done=delegate_removed")
			wantPage(t, b.post("/users/"+id(english.ID)+"/remove", nil), http.StatusNotFound)
			if strings.Contains(b.get("/users?done=delegate_removed").Body.String(), "Known User") {
				t.Error("the removed delegate is still listed")
			}
			// Out at once: the delegate's next request has no account.
			wantPage(t, db.get("/users"), http.StatusForbidden)
			wantPage(t, db.get("/equipment"), http.StatusForbidden)
		})
	}
}

// TestManageUsersOtherAccount: an invitation or a delegate of another
// account is 404 to a primary, and stays as it was.
func TestManageUsersOtherAccount(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	other := e.newAccount("two", "J3X 0E1")
	token := e.invite(&other, "invited.two@example.com")
	d := e.newUser("delegate.two@example.com", "Delegate Two")
	e.addRole(d, other.ID, domain.RoleDelegate)

	b := e.browser()
	b.login(a.primary.Email)
	wantPage(t, b.post("/users/invitations/"+id(other.invitation.ID)+"/cancel", nil), http.StatusNotFound)
	wantPage(t, b.get("/users/"+id(d.ID)+"/remove"), http.StatusNotFound)
	wantPage(t, b.post("/users/"+id(d.ID)+"/remove", nil), http.StatusNotFound)
	if strings.Contains(b.get("/users").Body.String(), "invited.two@example.com") {
		t.Error("the page shows another account's invitation")
	}
	if _, err := e.st.OpenInvitation(context.Background(), token); err != nil {
		t.Errorf("another account's invitation was cancelled: %v", err)
	}
	if users, _ := e.st.AccountUsers(context.Background(), other.ID); len(users) != 2 {
		t.Errorf("another account's users changed: %+v", users)
	}
}

// TestManageUsersCSRF: the forms of the page are refused without their
// token, and change nothing.
func TestManageUsersCSRF(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	e.invite(&a, "invited@example.com")
	d := e.newUser("delegate@example.com", "Delegate")
	e.addRole(d, a.ID, domain.RoleDelegate)
	b := e.browser()
	b.login(a.primary.Email)
	for _, path := range []string{"/users/invite", "/users/invitations/" + id(a.invitation.ID) + "/cancel", "/users/" + id(d.ID) + "/remove"} {
		wantPage(t, b.postRaw(path, url.Values{"email": {"x@example.com"}}), http.StatusForbidden, "Ce formulaire a expiré")
	}
	if p, _ := e.st.PendingInvitations(context.Background(), a.ID); len(p) != 1 {
		t.Errorf("pending invitations = %+v", p)
	}
	if users, _ := e.st.AccountUsers(context.Background(), a.ID); len(users) != 2 {
		t.Errorf("users = %+v", users)
	}
	if !strings.Contains(b.get("/users").Body.String(), `name="csrf" value="`+b.cookies["ml_csrf"].Value+`"`) {
		t.Error("the page's forms lack the CSRF token")
	}
}
