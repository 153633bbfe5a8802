package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// accountsView is the data of the page of the accounts a user may order
// for (seed 000, "Comptes délégués : les autres comptes pour lesquels
// vous êtes autorisé à commander").
type accountsView struct {
	Accounts []accountRow
}

// accountRow is an account the user may order for.
type accountRow struct {
	ID             int64
	Name           string
	CustomerNumber string
	// Delegate: the user is a delegate of it (else its primary), and may
	// withdraw from it.
	Delegate bool
	// Current: the account the user acts for now.
	Current bool
}

// accounts lists the accounts where the user is primary or delegate; each
// other than the current one can be made current (POST
// /accounts/:account/current), each delegation withdrawn.
func (s *Server) accounts(c echo.Context) error {
	v := mustVisitor(c)
	list, err := s.store.AccountsUserMayOrderFor(c.Request().Context(), v.user.ID)
	if err != nil {
		return err
	}
	var view accountsView
	for _, a := range list {
		view.Accounts = append(view.Accounts, accountRow{ID: a.ID, Name: a.Name, CustomerNumber: a.CustomerNumber,
			Delegate: a.Role == domain.RoleDelegate, Current: v.current != nil && v.current.AccountID == a.ID})
	}
	return s.render(c, http.StatusOK, "accounts", view)
}

// delegationOf returns the account of the path if the user is a delegate
// of it, read with the request's roles; any other account is 404.
func delegationOf(c echo.Context) (store.MemberAccount, error) {
	id, err := strconv.ParseInt(c.Param("account"), 10, 64)
	if err != nil {
		return store.MemberAccount{}, echo.ErrNotFound
	}
	a := mustVisitor(c).actingFor(id)
	if a == nil || a.Role != domain.RoleDelegate {
		return store.MemberAccount{}, echo.ErrNotFound
	}
	return *a, nil
}

// withdrawView is the data of the page that confirms a withdrawal.
type withdrawView struct {
	AccountID      int64
	AccountName    string
	CustomerNumber string
}

// withdrawForm asks a delegate to confirm leaving an account.
func (s *Server) withdrawForm(c echo.Context) error {
	a, err := delegationOf(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "account_withdraw", withdrawView{AccountID: a.AccountID, AccountName: a.Name, CustomerNumber: a.CustomerNumber})
}

// withdraw ends the user's delegation on an account; the store tells the
// primary user by e-mail. The session then acts for another account of
// the user, if any (authorize picks it on the next request).
func (s *Server) withdraw(c echo.Context) error {
	a, err := delegationOf(c)
	if err != nil {
		return err
	}
	if err := s.store.WithdrawDelegation(c.Request().Context(), a.AccountID, mustVisitor(c).user.ID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/accounts?done=withdrew")
}
