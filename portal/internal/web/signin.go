package web

import (
	"cmp"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// home sends a signed-in user to the dashboard, anyone else to sign in.
func (s *Server) home(c echo.Context) error {
	if currentVisitor(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/dashboard")
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

// loginView is the data of the sign-in page.
type loginView struct {
	Email string
	// Next is where to go once signed in: a path of this site.
	Next string
	// Error is a catalogue key, "" for none.
	Error string
}

// loginForm shows the sign-in form; a signed-in user goes on at once.
func (s *Server) loginForm(c echo.Context) error {
	next := localPath(c.QueryParam("next"))
	if currentVisitor(c) != nil {
		return c.Redirect(http.StatusSeeOther, cmp.Or(next, "/dashboard"))
	}
	return s.render(c, http.StatusOK, "login", loginView{Next: next})
}

// login signs a user in. Whether the e-mail has an account or not, a
// failure reads the same and costs the same (a password is checked against
// a dummy hash when there is no user); attempts are limited per e-mail and
// per client address. Success rotates the session and rehashes a password
// stored under old parameters.
func (s *Server) login(c echo.Context) error {
	ctx := c.Request().Context()
	email := strings.TrimSpace(c.FormValue("email"))
	password := c.FormValue("password")
	view := loginView{Email: email, Next: localPath(c.FormValue("next"))}
	if email == "" || password == "" {
		view.Error = "login.error.missing"
		return s.render(c, http.StatusBadRequest, "login", view)
	}
	ok, err := s.allow(c, store.AttemptLogin, s.limits.Login, email)
	if err != nil {
		return err
	}
	if !ok {
		view.Error = "error.too_many"
		return s.render(c, http.StatusTooManyRequests, "login", view)
	}
	user, err := s.store.UserByEmail(ctx, email)
	if err != nil && domain.ErrorCode(err) != domain.ENOTFOUND {
		return err
	}
	if err != nil || user.PasswordHash == nil {
		s.hasher.VerifyNothing(password)
		view.Error = "login.error.wrong"
		return s.render(c, http.StatusUnauthorized, "login", view)
	}
	match, rehash, err := s.hasher.Verify(*user.PasswordHash, password)
	if err != nil {
		return err
	}
	if !match {
		view.Error = "login.error.wrong"
		return s.render(c, http.StatusUnauthorized, "login", view)
	}
	if rehash {
		if h, err := s.hasher.Hash(password); err == nil {
			if err := s.store.RehashPassword(ctx, user.ID, *user.PasswordHash, h); err != nil {
				s.logger.Warn("rehash a password", "user", user.ID, "error", err)
			}
		}
	}
	if err := s.store.ClearAttempts(ctx, store.AttemptLogin, store.EmailSubject(email)); err != nil {
		return err
	}
	if err := s.signIn(c, user); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, cmp.Or(view.Next, "/dashboard"))
}

// logout ends the session and says so on the sign-in page.
func (s *Server) logout(c echo.Context) error {
	if err := s.signOut(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login?done=signed_out")
}
