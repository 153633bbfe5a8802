package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/meterline/meterline/portal/internal/i18n"
)

// contentSecurityPolicy allows the page nothing but its own origin: no
// inline script or style, no framing by another site.
const contentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// securityHeaders sets the headers every response carries.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		return next(c)
	}
}

// Language selection: ?lang= (remembered in a cookie), else the cookie,
// else Accept-Language, else French.
const (
	langCookie = "lang"
	langParam  = "lang"
	printerKey = "i18n.printer"
)

// language picks the language of the response and keeps its printer in the
// context for the handlers and the renderer.
func language(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		lang, fromQuery := i18n.Parse(c.QueryParam(langParam))
		switch {
		case fromQuery:
			c.SetCookie(&http.Cookie{ //nolint:gosec // a language preference, not a secret: Secure follows the scheme, HttpOnly and SameSite are set
				Name:     langCookie,
				Value:    string(lang),
				Path:     "/",
				MaxAge:   365 * 24 * 60 * 60,
				HttpOnly: true,
				Secure:   c.Scheme() == "https",
				SameSite: http.SameSiteLaxMode,
			})
		default:
			var ok bool
			if ck, err := c.Cookie(langCookie); err == nil {
				lang, ok = i18n.Parse(ck.Value)
			}
			if !ok {
				lang = i18n.Negotiate(c.Request().Header.Get("Accept-Language"))
			}
		}
		c.Response().Header().Add("Vary", "Accept-Language, Cookie")
		setLanguage(c, lang)
		return next(c)
	}
}

// setLanguage makes lang the language of the response: a signed-in
// user's own language replaces the browser's (authorize).
func setLanguage(c echo.Context, lang i18n.Lang) {
	p := i18n.For(lang)
	c.Response().Header().Set("Content-Language", string(p.Lang()))
	c.Set(printerKey, p)
}

// csrfKey is where the CSRF middleware leaves the token forms carry, in
// the hidden field csrfField (layout template "csrf").
const (
	csrfKey   = "csrf"
	csrfField = "csrf"
)

// csrf refuses a state-changing request (any method but GET, HEAD,
// OPTIONS, TRACE) that does not prove it comes from the site's own pages:
// a browser's Sec-Fetch-Site: same-origin, or else the token of the
// csrf cookie repeated in the form field (or the X-CSRF-Token header).
// The bearer-token API has no cookies to abuse and is left out. The cookie
// is Secure on the same terms as the session's.
func (s *Server) csrf() echo.MiddlewareFunc {
	cfg := middleware.CSRFConfig{
		Skipper:        func(c echo.Context) bool { return isAPIPath(c.Request().URL.Path) },
		TokenLookup:    "form:" + csrfField + ",header:" + echo.HeaderXCSRFToken,
		ContextKey:     csrfKey,
		CookieName:     "ml_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSameSite: http.SameSiteLaxMode,
		ErrorHandler: func(err error, c echo.Context) error {
			s.logger.Info("CSRF check refused a request", "method", c.Request().Method, "path", c.Request().URL.Path, "reason", err.Error())
			return pageError(http.StatusForbidden, "error.csrf")
		},
	}
	plain := middleware.CSRFWithConfig(cfg)
	cfg.CookieSecure = true
	secure := middleware.CSRFWithConfig(cfg)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		overPlain, overTLS := plain(next), secure(next)
		return func(c echo.Context) error {
			if s.secureCookies(c) {
				return overTLS(c)
			}
			return overPlain(c)
		}
	}
}

// maxFormBytes bounds the body of a page's form; a multipart form (the
// meter-read form and its photo) may carry the photo's limit more.
const maxFormBytes = 1 << 20

// limitBody bounds what a page's form may send, before anything reads it
// (the CSRF check parses the form): a body announced larger is refused at
// once, a longer one is cut. A photo just over its own limit still
// arrives whole, so that its form says so in words. The API bounds its
// own bodies.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if isAPIPath(r.URL.Path) || r.Method == http.MethodGet || r.Method == http.MethodHead {
			return next(c)
		}
		limit := int64(maxFormBytes)
		if s.photos != nil && strings.HasPrefix(r.Header.Get(echo.HeaderContentType), echo.MIMEMultipartForm) {
			limit += s.photos.MaxBytes()
		}
		if r.ContentLength > limit {
			return pageError(http.StatusRequestEntityTooLarge, "error.form_too_large")
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
		return next(c)
	}
}

// csrfToken is the token the request's forms carry.
func csrfToken(c echo.Context) string {
	t, _ := c.Get(csrfKey).(string)
	return t
}

// printer returns the request's message printer.
func printer(c echo.Context) *i18n.Printer {
	if p, ok := c.Get(printerKey).(*i18n.Printer); ok {
		return p
	}
	return i18n.For(i18n.Default)
}

// recoverPanic turns a handler's panic into a 500 instead of a dropped
// connection, and logs its stack.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler { //nolint:errorlint // recover returns the very value net/http panics with
					panic(r)
				}
				s.logger.Error("handler panicked", "path", c.Request().URL.Path, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// logRequest logs each request at debug level; errors are logged by the
// error handler.
func (s *Server) logRequest(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		s.logger.LogAttrs(c.Request().Context(), slog.LevelDebug, "request",
			slog.String("method", c.Request().Method),
			slog.String("path", c.Request().URL.Path),
			slog.Int("status", c.Response().Status),
			slog.Duration("duration", time.Since(start)))
		return nil
	}
}
