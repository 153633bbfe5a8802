package web

import (
	"cmp"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// usersView is the data of the manage-users page (seed 000, "Gérer les
// utilisateurs"): the account's primary and delegates, the invitations
// waiting for an answer, and, for the primary, the invitation form.
type usersView struct {
	AccountID   int64
	AccountName string
	// Primary: the visitor is the account's primary user and sees the
	// actions; a delegate sees the list and how to withdraw.
	Primary bool
	Users   []userRow
	Pending []invitationRow
	// Max is the most delegates an account has, pending invitations
	// counted; Left is how many more may be invited.
	Max, Left int
	// Email is the invitation form's address, Error what is wrong with
	// it (in the page's language).
	Email string
	Error string
}

// userRow is a user of the account as the page lists it.
type userRow struct {
	ID       int64
	Name     string
	Email    string
	Delegate bool
	// Me: the visitor.
	Me bool
	// Active: the user has a password and can sign in; a delegate who
	// accepted but has not chosen one yet is not.
	Active bool
	Since  string
}

// invitationRow is an invitation waiting for its answer.
type invitationRow struct {
	ID      int64
	Email   string
	Sent    string
	Expires string
}

// customerUsers returns the primary and delegates of an account: the
// back office's roles are not the customer's business.
func customerUsers(all []store.AccountUser) []store.AccountUser {
	var out []store.AccountUser
	for _, u := range all {
		if u.Role == domain.RolePrimary || u.Role == domain.RoleDelegate {
			out = append(out, u)
		}
	}
	return out
}

// usersPage reads what the manage-users page shows of the current account.
func (s *Server) usersPage(c echo.Context) (usersView, error) {
	ctx := c.Request().Context()
	v, account := mustVisitor(c), currentAccount(c)
	p := printer(c)
	view := usersView{AccountID: account.AccountID, AccountName: account.Name, Primary: account.Role == domain.RolePrimary, Max: domain.MaxDelegates}
	all, err := s.store.AccountUsers(ctx, account.AccountID)
	if err != nil {
		return usersView{}, err
	}
	delegates := 0
	for _, u := range customerUsers(all) {
		row := userRow{ID: u.UserID, Name: u.Name, Email: u.Email, Delegate: u.Role == domain.RoleDelegate, Me: u.UserID == v.user.ID,
			Active: u.HasPassword, Since: p.DateTime(u.Since, s.loc)}
		if row.Delegate {
			delegates++
		}
		view.Users = append(view.Users, row)
	}
	pending, err := s.store.PendingInvitations(ctx, account.AccountID)
	if err != nil {
		return usersView{}, err
	}
	for _, in := range pending {
		view.Pending = append(view.Pending, invitationRow{ID: in.ID, Email: in.Email, Sent: p.DateTime(in.CreatedAt, s.loc), Expires: p.DateTime(in.ExpiresAt, s.loc)})
	}
	view.Left = max(0, domain.MaxDelegates-delegates-len(pending))
	return view, nil
}

// users shows the manage-users page.
func (s *Server) users(c echo.Context) error {
	view, err := s.usersPage(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "users", view)
}

// invite invites a person by e-mail to become a delegate of the current
// account (primary only; the route says so). The store keeps the limit of
// two delegates, pending invitations counted, and sends the e-mail; the
// page says first, in words, why an invitation cannot go.
func (s *Server) invite(c echo.Context) error {
	ctx := c.Request().Context()
	v, account := mustVisitor(c), currentAccount(c)
	p := printer(c)
	view, err := s.usersPage(c)
	if err != nil {
		return err
	}
	view.Email = strings.TrimSpace(c.FormValue("email"))
	refuse := func(status int, key string, args ...any) error {
		view.Error = p.T(key, args...)
		return s.render(c, status, "users", view)
	}
	email := validEmail(view.Email)
	switch {
	case email == "":
		return refuse(http.StatusBadRequest, "form.error.email")
	case view.Left == 0:
		return refuse(http.StatusConflict, "users.error.limit", domain.MaxDelegates)
	}
	for _, u := range view.Users {
		if strings.EqualFold(u.Email, email) {
			return refuse(http.StatusConflict, "users.error.member")
		}
	}
	for _, in := range view.Pending {
		if strings.EqualFold(in.Email, email) {
			return refuse(http.StatusConflict, "users.error.invited")
		}
	}
	_, _, err = s.store.InviteDelegate(ctx, store.DelegateInvite{AccountID: account.AccountID, InviterID: v.user.ID, Email: email,
		TTL: cmp.Or(s.links.Invitation, DefaultLinkTTL.Invitation), BaseURL: s.baseURL})
	switch domain.ErrorCode(err) {
	case "":
	case domain.EINVALID:
		return refuse(http.StatusBadRequest, "form.error.email")
	case domain.ECONFLICT:
		// Another tab invited meanwhile, or the address is a back-office
		// user of the account: either way, this one cannot be invited.
		return refuse(http.StatusConflict, "users.error.conflict", domain.MaxDelegates)
	default:
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/users?done=invitation_sent")
}

// cancelInvitation withdraws a pending invitation of the current account:
// its link stops working. Another account's invitation is 404.
func (s *Server) cancelInvitation(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("invitation"), 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	if err := s.store.CancelInvitation(c.Request().Context(), currentAccount(c).AccountID, mustVisitor(c).user.ID, id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/users?done=invitation_cancelled")
}

// removeView is the data of the page that confirms removing a delegate.
type removeView struct {
	UserID      int64
	Name        string
	Email       string
	AccountName string
}

// delegateOf returns the delegate of the current account the path names;
// anyone else (the primary, another account's user, no one) is 404.
func (s *Server) delegateOf(c echo.Context) (store.AccountUser, error) {
	id, err := strconv.ParseInt(c.Param("user"), 10, 64)
	if err != nil {
		return store.AccountUser{}, echo.ErrNotFound
	}
	all, err := s.store.AccountUsers(c.Request().Context(), currentAccount(c).AccountID)
	if err != nil {
		return store.AccountUser{}, err
	}
	for _, u := range all {
		if u.UserID == id && u.Role == domain.RoleDelegate {
			return u, nil
		}
	}
	return store.AccountUser{}, echo.ErrNotFound
}

// removeDelegateForm asks the primary to confirm removing a delegate.
func (s *Server) removeDelegateForm(c echo.Context) error {
	d, err := s.delegateOf(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "user_remove", removeView{UserID: d.UserID, Name: d.Name, Email: d.Email, AccountName: currentAccount(c).Name})
}

// removeDelegate ends a delegate's access to the current account: the
// delegate is out from the next request on (authorize reads the roles on
// every request).
func (s *Server) removeDelegate(c echo.Context) error {
	d, err := s.delegateOf(c)
	if err != nil {
		return err
	}
	if err := s.store.RemoveDelegate(c.Request().Context(), currentAccount(c).AccountID, mustVisitor(c).user.ID, d.UserID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/users?done=delegate_removed")
}
