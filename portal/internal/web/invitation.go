package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/auth"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// invitationView is the data of the page of an invitation link: who
// invites whom to which account, and the button that accepts.
type invitationView struct {
	Token          string
	Email          string
	AccountName    string
	CustomerNumber string
	InviterName    string
	Expires        string
	// SignedInAs is the visitor's address when someone other than the
	// invited person is signed in: accepting makes the invited person a
	// delegate, not the visitor.
	SignedInAs string
}

// invitationForm shows an invitation before it is accepted. Showing it
// does not use the link: mail scanners open links too. A link expired,
// cancelled, used or made up gets one page that says only that.
func (s *Server) invitationForm(c echo.Context) error {
	token := c.QueryParam("token")
	inv, err := s.store.OpenInvitation(c.Request().Context(), token)
	if err != nil {
		return s.invitationInvalid(c, err)
	}
	view := invitationView{Token: token, Email: inv.Email, AccountName: inv.Account.Name, CustomerNumber: inv.Account.CustomerNumber,
		InviterName: inv.InviterName, Expires: printer(c).DateTime(inv.ExpiresAt, s.loc)}
	if v := currentVisitor(c); v != nil && !strings.EqualFold(v.user.Email, inv.Email) {
		view.SignedInAs = v.user.Email
	}
	return s.render(c, http.StatusOK, "invitation", view)
}

// acceptInvitation accepts an invitation: the invited person becomes a
// delegate of the account and its primary user is told by e-mail (the
// store does both). Then, a person without a password goes on to choose
// one (the set-password page of a one-time link, which signs them in); a
// user with a password signed in here acts for the account at once; one
// who is not signed in is asked to.
func (s *Server) acceptInvitation(c echo.Context) error {
	ctx := c.Request().Context()
	acc, err := s.store.AcceptInvitation(ctx, c.FormValue("token"))
	switch domain.ErrorCode(err) {
	case "":
	case domain.ENOTFOUND:
		return s.invitationInvalid(c, err)
	case domain.ECONFLICT:
		return pageError(http.StatusConflict, "invitation.error.conflict")
	default:
		return err
	}
	v := currentVisitor(c)
	switch {
	case acc.NeedsPassword:
		// The invitation proved the address: a set-password link of the
		// foundation's kind, handed over at once instead of by e-mail.
		token, hash, err := auth.NewToken()
		if err != nil {
			return err
		}
		if _, err := s.store.CreateOneTimeToken(ctx, store.OneTimeToken{Kind: store.TokenReset, UserID: &acc.User.ID, Hash: hash,
			ExpiresAt: s.now().Add(s.links.Reset)}); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/password/reset?"+url.Values{"token": {token}, "done": {"invitation_password"}}.Encode())
	case v != nil && v.user.ID == acc.User.ID:
		if err := s.store.SetSessionAccount(ctx, v.session.ID, &acc.Account.ID); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/dashboard?done=invitation_accepted")
	case v != nil:
		return s.render(c, http.StatusOK, "invitation_accepted", invitationView{Email: acc.User.Email, AccountName: acc.Account.Name,
			CustomerNumber: acc.Account.CustomerNumber, SignedInAs: v.user.Email})
	}
	return c.Redirect(http.StatusSeeOther, "/login?"+url.Values{"next": {"/accounts"}, "done": {"invitation_sign_in"}}.Encode())
}

// invitationInvalid answers an invitation link that does not work with a
// page saying so and nothing else: not why, not whose.
func (s *Server) invitationInvalid(c echo.Context, err error) error {
	if domain.ErrorCode(err) != domain.ENOTFOUND {
		return err
	}
	return s.render(c, http.StatusNotFound, "invitation_invalid", nil)
}
