package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/auth"
	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// sessionCookie holds the session's secret; the database holds its hash.
const sessionCookie = "ml_session"

// visitorKey is where authorize leaves the request's visitor.
const visitorKey = "web.visitor"

// visitor is who makes a request: the signed-in user, read from the
// database on every request with the accounts the user has a role on, so
// that a role removed a moment ago no longer counts.
type visitor struct {
	session store.Session
	user    store.User
	// accounts are all the user's roles, back office included.
	accounts []store.MemberAccount
	// current is the account the user acts for: one where the user is
	// primary or delegate; nil when there is none.
	current *store.MemberAccount
}

// acting lists the accounts the user may act for (primary or delegate).
func (v *visitor) acting() []store.MemberAccount {
	var out []store.MemberAccount
	for _, a := range v.accounts {
		if a.Role == domain.RolePrimary || a.Role == domain.RoleDelegate {
			out = append(out, a)
		}
	}
	return out
}

// actingFor returns the user's acting role on an account, nil when none.
func (v *visitor) actingFor(accountID int64) *store.MemberAccount {
	for _, a := range v.acting() {
		if a.AccountID == accountID {
			return &a
		}
	}
	return nil
}

// isBackOffice reports whether the user has the back-office role.
func (v *visitor) isBackOffice() bool {
	for _, a := range v.accounts {
		if a.Role == domain.RoleBackOffice {
			return true
		}
	}
	return false
}

// currentVisitor returns the request's signed-in visitor, nil when none.
func currentVisitor(c echo.Context) *visitor {
	v, _ := c.Get(visitorKey).(*visitor)
	return v
}

// mustVisitor is currentVisitor on a route authorize only lets signed-in
// users through.
func mustVisitor(c echo.Context) *visitor {
	v := currentVisitor(c)
	if v == nil {
		panic("web: " + c.Path() + " has no visitor: its route's access level lets anonymous visitors in")
	}
	return v
}

// currentAccount is the account a member route acts for: authorize has
// checked that there is one and that the user is a member of it.
func currentAccount(c echo.Context) store.MemberAccount {
	v := mustVisitor(c)
	if v.current == nil {
		panic("web: " + c.Path() + " has no current account: its route is not a member route")
	}
	return *v.current
}

// authorize is the one place where access levels are enforced: it reads
// the visitor from the session cookie, applies the user's language, and
// lets the request through only when the visitor has the route's access
// level. An anonymous visitor is sent to sign in; a signed-in one who lacks
// the level gets 403, except for the back office, which answers 404 so
// that its pages are not even known to exist.
func (s *Server) authorize(level access) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if level == asset {
				return next(c)
			}
			v, err := s.readVisitor(c)
			if err != nil {
				return err
			}
			if v != nil {
				c.Set(visitorKey, v)
				if _, fromQuery := i18n.Parse(c.QueryParam(langParam)); !fromQuery {
					setLanguage(c, i18n.Lang(v.user.Language))
				}
				// A signed-in page is the user's alone: no shared cache keeps it.
				c.Response().Header().Set("Cache-Control", "no-store")
			}
			switch {
			case level == anyone:
			case v == nil:
				return s.toLogin(c)
			case level == signedIn:
			case level == backOffice && !v.isBackOffice():
				return echo.ErrNotFound
			case level == backOffice:
			case v.current == nil:
				return pageError(http.StatusForbidden, "error.no_account")
			case level == primaryOnly && v.current.Role != domain.RolePrimary:
				return pageError(http.StatusForbidden, "error.primary_only")
			}
			return next(c)
		}
	}
}

// toLogin sends an anonymous visitor to the sign-in page, which brings
// them back to the page they asked for (a GET; after a form, the
// dashboard).
func (s *Server) toLogin(c echo.Context) error {
	target := "/login"
	if c.Request().Method == http.MethodGet {
		target += "?" + url.Values{"next": {c.Request().URL.RequestURI()}}.Encode()
	}
	return c.Redirect(http.StatusSeeOther, target)
}

// readVisitor reads the session of the request's cookie. No cookie, an
// unknown session or an expired one (which is deleted) is an anonymous
// visitor. The current account is checked against the roles read now: if
// the user lost it, the first account left is taken, or none.
func (s *Server) readVisitor(c echo.Context) (*visitor, error) {
	ck, err := c.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, nil
	}
	ctx := c.Request().Context()
	id := auth.HashToken(ck.Value)
	sess, user, accounts, err := s.store.SessionUser(ctx, id)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		s.clearSessionCookie(c)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if s.sessions.Expired(sess.LastSeenAt, sess.ExpiresAt, s.now()) {
		if err := s.store.DeleteSession(ctx, id); err != nil {
			return nil, err
		}
		s.clearSessionCookie(c)
		return nil, nil
	}
	if _, err := s.store.TouchSession(ctx, sess); err != nil {
		return nil, err
	}
	v := &visitor{session: sess, user: user, accounts: accounts}
	if sess.AccountID != nil {
		v.current = v.actingFor(*sess.AccountID)
	}
	if v.current == nil {
		if acting := v.acting(); len(acting) > 0 {
			v.current = &acting[0]
		}
		if !sameAccount(sess.AccountID, v.current) {
			var id *int64
			if v.current != nil {
				id = &v.current.AccountID
			}
			if err := s.store.SetSessionAccount(ctx, sess.ID, id); err != nil {
				return nil, err
			}
			v.session.AccountID = id
		}
	}
	return v, nil
}

func sameAccount(id *int64, a *store.MemberAccount) bool {
	if id == nil || a == nil {
		return id == nil && a == nil
	}
	return *id == a.AccountID
}

// signIn starts a session for user in place of the request's session, if
// any (the session id rotates at every sign-in), acting for the user's
// first account, and sets its cookie.
func (s *Server) signIn(c echo.Context, user store.User) error {
	ctx := c.Request().Context()
	accounts, err := s.store.MemberAccounts(ctx, user.ID)
	if err != nil {
		return err
	}
	v := &visitor{user: user, accounts: accounts}
	var accountID *int64
	if acting := v.acting(); len(acting) > 0 {
		accountID = &acting[0].AccountID
	}
	var old []byte
	if ck, err := c.Cookie(sessionCookie); err == nil && ck.Value != "" {
		old = auth.HashToken(ck.Value)
	}
	token, hash, err := auth.NewToken()
	if err != nil {
		return err
	}
	if _, err := s.store.CreateSession(ctx, store.Session{ID: hash, UserID: user.ID, AccountID: accountID,
		ExpiresAt: s.now().Add(s.sessions.MaxAge)}, old); err != nil {
		return err
	}
	s.setSessionCookie(c, token)
	return nil
}

// signOut ends the request's session, if any, and clears its cookie.
func (s *Server) signOut(c echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil && ck.Value != "" {
		if err := s.store.DeleteSession(c.Request().Context(), auth.HashToken(ck.Value)); err != nil {
			return err
		}
	}
	s.clearSessionCookie(c)
	return nil
}

// setSessionCookie sets the session cookie: HttpOnly (no script reads
// it), SameSite=Lax (no cross-site form posts it), Secure over HTTPS or
// when told, for the browser's session only (the server ends it anyway).
func (s *Server) setSessionCookie(c echo.Context, token string) {
	c.SetCookie(&http.Cookie{ //nolint:gosec // G124: Secure over HTTPS or when forced (secureCookies); plain HTTP is a local run
		Name:     sessionCookie,
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.secureCookies(c),
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearSessionCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{ //nolint:gosec // G124: as setSessionCookie
		Name:     sessionCookie,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.secureCookies(c),
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) secureCookies(c echo.Context) bool {
	return s.secure || c.Scheme() == "https"
}

// localPath returns p when it is a path of this site, "" otherwise: a
// redirect after sign-in goes nowhere else ("//host" and "/\host" are
// other hosts to a browser).
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return ""
	}
	return p
}
