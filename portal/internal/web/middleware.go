package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"

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
		h := c.Response().Header()
		h.Set("Content-Language", string(lang))
		h.Add("Vary", "Accept-Language, Cookie")
		c.Set(printerKey, i18n.For(lang))
		return next(c)
	}
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
