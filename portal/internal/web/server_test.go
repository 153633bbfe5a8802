package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// testNow is the time every handler test runs at.
var testNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// fakeStore is a real store whose back-office device list, equipment
// list (when err is set) and ping answer what the test says.
type fakeStore struct {
	*store.Store
	devices []store.DeviceSummary
	err     error
	pingErr error
}

func (f *fakeStore) Devices(context.Context) ([]store.DeviceSummary, error) { return f.devices, f.err }
func (f *fakeStore) Ping(context.Context) error                             { return f.pingErr }
func (f *fakeStore) AccountEquipmentPage(ctx context.Context, accountID int64, automaticWithin time.Duration, limit, offset int) (store.EquipmentPage, error) {
	if f.err != nil {
		return store.EquipmentPage{}, f.err
	}
	return f.Store.AccountEquipmentPage(ctx, accountID, automaticWithin, limit, offset)
}

// testSite is a server over a fakeStore whose every request carries the
// session of the primary user of an account who also has the back-office
// role, so that the account's pages (the equipment list) and the back
// office's (all devices) answer; its Server answers anonymous requests.
type testSite struct {
	*Server
	cookie *http.Cookie
}

func (s testSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.AddCookie(s.cookie)
	// A fixed CSRF token keeps the golden pages' forms the same.
	r.AddCookie(&http.Cookie{Name: "ml_csrf", Value: "golden-csrf-token"})
	s.Server.ServeHTTP(w, r)
}

func newTestServer(t *testing.T, f *fakeStore) testSite {
	t.Helper()
	e := newEnv(t, func(o *Options) {
		f.Store = o.Store.(*store.Store)
		o.Store = f
	})
	a := e.newAccount("site", "H2X 1Y4")
	e.addRole(a.primary, e.newAccount("supplier", "H3B 2Y5").ID, domain.RoleBackOffice)
	b := e.browser()
	b.login(a.primary.Email)
	return testSite{Server: e.srv, cookie: b.cookies[sessionCookie]}
}

// request serves one request; header holds name, value pairs.
func request(t *testing.T, h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHomeRedirects(t *testing.T) {
	s := newTestServer(t, &fakeStore{})
	if rec := request(t, s.Server, http.MethodGet, "/"); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
		t.Errorf("GET / anonymous = %d to %q, want 303 to /login", rec.Code, rec.Header().Get("Location"))
	}
	if rec := request(t, s, http.MethodGet, "/"); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/dashboard" {
		t.Errorf("GET / signed in = %d to %q, want 303 to /dashboard", rec.Code, rec.Header().Get("Location"))
	}
}

func TestHealth(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		pingErr  error
		wantCode int
		wantBody string
	}{
		{"up", http.MethodGet, nil, http.StatusOK, "ok\n"},
		{"head", http.MethodHead, nil, http.StatusOK, "ok\n"}, // the server, not the handler, drops a HEAD body
		{"database down", http.MethodGet, errors.New("connection refused"), http.StatusServiceUnavailable, "unavailable\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := request(t, newTestServer(t, &fakeStore{pingErr: tt.pingErr}), tt.method, "/healthz")
			if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
				t.Errorf("%s /healthz = %d %q, want %d %q", tt.method, rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	s := newTestServer(t, &fakeStore{})
	for _, path := range []string{"/login", "/equipment", "/no-such-page", "/static/style.css", "/healthz"} {
		rec := request(t, s, http.MethodGet, path)
		h := rec.Header()
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy = %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options = %q", path, h.Get("X-Content-Type-Options"))
		}
		if h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: X-Frame-Options = %q", path, h.Get("X-Frame-Options"))
		}
	}
}

func TestLanguage(t *testing.T) {
	tests := []struct {
		name       string
		target     string
		header     []string
		wantLang   string
		wantCookie string // "" when no cookie is set
	}{
		{"default is French", "/login", nil, "fr", ""},
		{"Accept-Language English", "/login", []string{"Accept-Language", "en-GB,en;q=0.9"}, "en", ""},
		{"Accept-Language unsupported", "/login", []string{"Accept-Language", "de-DE"}, "fr", ""},
		{"query sets the cookie", "/login?lang=en", []string{"Accept-Language", "fr"}, "en", "en"},
		{"query French over English browser", "/login?lang=fr", []string{"Accept-Language", "en"}, "fr", "fr"},
		{"cookie over Accept-Language", "/login", []string{"Cookie", "lang=en", "Accept-Language", "fr"}, "en", ""},
		{"bad query falls back to cookie", "/login?lang=de", []string{"Cookie", "lang=en"}, "en", ""},
		{"bad cookie falls back to header", "/login", []string{"Cookie", "lang=xx", "Accept-Language", "en"}, "en", ""},
		{"error pages too", "/nope?lang=en", nil, "en", "en"},
	}
	s := newTestServer(t, &fakeStore{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := request(t, s.Server, http.MethodGet, tt.target, tt.header...)
			body := rec.Body.String()
			if !strings.Contains(body, `<html lang="`+tt.wantLang+`">`) {
				t.Errorf("page language is not %q:\n%.300s", tt.wantLang, body)
			}
			if got := rec.Header().Get("Content-Language"); got != tt.wantLang {
				t.Errorf("Content-Language = %q, want %q", got, tt.wantLang)
			}
			var cookie string
			for _, c := range rec.Header().Values("Set-Cookie") {
				if strings.HasPrefix(c, "lang=") {
					cookie = c
				}
			}
			switch {
			case tt.wantCookie == "" && cookie != "":
				t.Errorf("Set-Cookie = %q, want none", cookie)
			case tt.wantCookie != "":
				for _, want := range []string{"lang=" + tt.wantCookie, "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age="} {
					if !strings.Contains(cookie, want) {
						t.Errorf("Set-Cookie = %q, lacks %q", cookie, want)
					}
				}
			}
		})
	}
}

func TestLanguageSwitchLink(t *testing.T) {
	s := newTestServer(t, &fakeStore{})
	tests := []struct{ target, want string }{
		{"/login", `href="/login?lang=en" hreflang="en" lang="en"`},
		{"/login?lang=en", `href="/login?lang=fr" hreflang="fr" lang="fr"`},
		{"/login?sort=x&lang=fr", `href="/login?lang=en&amp;sort=x"`},
		{"//evil.example/x", `href="/?lang=en"`},
	}
	for _, tt := range tests {
		body := request(t, s.Server, http.MethodGet, tt.target).Body.String()
		if !strings.Contains(body, tt.want) {
			t.Errorf("GET %s: the language link is not %s", tt.target, tt.want)
		}
	}
}

func TestStatic(t *testing.T) {
	s := newTestServer(t, &fakeStore{})
	tests := []struct {
		path     string
		wantCode int
		wantType string
	}{
		{"/static/style.css", http.StatusOK, "text/css; charset=utf-8"},
		{"/static/favicon.svg", http.StatusOK, "image/svg+xml"},
		{"/static/", http.StatusNotFound, ""},
		{"/static/nope.css", http.StatusNotFound, ""},
		{"/static/../server.go", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		rec := request(t, s, http.MethodGet, tt.path)
		if rec.Code != tt.wantCode {
			t.Errorf("GET %s = %d, want %d", tt.path, rec.Code, tt.wantCode)
		}
		if tt.wantType != "" && rec.Header().Get("Content-Type") != tt.wantType {
			t.Errorf("GET %s: Content-Type %q, want %q", tt.path, rec.Header().Get("Content-Type"), tt.wantType)
		}
	}
	// The page links the stylesheet under a content-hashed URL that serves.
	page := request(t, s, http.MethodGet, "/equipment").Body.String()
	_, rest, ok := strings.Cut(page, `<link rel="stylesheet" href="`)
	href, _, _ := strings.Cut(rest, `"`)
	if !ok || !strings.HasPrefix(href, "/static/style.css?v=") {
		t.Fatalf("stylesheet link %q", href)
	}
	if rec := request(t, s, http.MethodGet, strings.ReplaceAll(href, "&amp;", "&")); rec.Code != http.StatusOK {
		t.Errorf("GET %s = %d", href, rec.Code)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		storeErr error
		method   string
		target   string
		wantCode int
		want     string
	}{
		{"unknown page", nil, http.MethodGet, "/no-such-page", http.StatusNotFound, "Cette page n&#39;existe pas."},
		{"unknown page in English", nil, http.MethodGet, "/no-such-page?lang=en", http.StatusNotFound, "This page does not exist."},
		{"wrong method", nil, http.MethodPut, "/equipment", http.StatusMethodNotAllowed, "Erreur 405"},
		{"not found code", domain.Errorf(domain.ENOTFOUND, "no device 7"), http.MethodGet, "/equipment", http.StatusNotFound, "Erreur 404"},
		{"invalid code", domain.Errorf(domain.EINVALID, "bad"), http.MethodGet, "/equipment", http.StatusBadRequest, "La demande n&#39;est pas valide."},
		{"unavailable code", domain.Errorf(domain.EUNAVAILABLE, "db down"), http.MethodGet, "/equipment", http.StatusServiceUnavailable, "momentanément indisponible"},
		{"schema behind code", domain.Errorf(domain.ESCHEMABEHIND, "v1 < v2"), http.MethodGet, "/equipment", http.StatusServiceUnavailable, "Erreur 503"},
		{"internal error", errors.New("pq: secret table detail"), http.MethodGet, "/equipment", http.StatusInternalServerError, "Une erreur interne"},
		{"wrapped code", errors.Join(errors.New("ctx"), domain.Errorf(domain.ECONFLICT, "clash")), http.MethodGet, "/equipment", http.StatusConflict, "Erreur 409"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := request(t, newTestServer(t, &fakeStore{err: tt.storeErr}), tt.method, tt.target, "Sec-Fetch-Site", "same-origin")
			body := rec.Body.String()
			if rec.Code != tt.wantCode {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantCode)
			}
			if !strings.Contains(body, tt.want) {
				t.Errorf("body lacks %q:\n%s", tt.want, body)
			}
			if strings.Contains(body, "secret table") || strings.Contains(body, "no device 7") {
				t.Error("the error page leaks the error's text")
			}
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
				t.Errorf("Content-Type = %q", rec.Header().Get("Content-Type"))
			}
		})
	}
}

func TestPanicIsA500(t *testing.T) {
	s := newTestServer(t, &fakeStore{})
	s.echo.GET("/panic", func(echo.Context) error { panic("boom") })
	rec := request(t, s, http.MethodGet, "/panic")
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "Erreur 500") {
		t.Errorf("GET /panic = %d:\n%s", rec.Code, rec.Body)
	}
}

func TestHTTPStatus(t *testing.T) {
	all := []string{
		domain.EINVALID, domain.ESCHEMA, domain.ETOOLARGE, domain.ENOTFOUND, domain.ECONFLICT,
		domain.EUNAUTHORIZED, domain.EINTERNAL, domain.EUNAVAILABLE, domain.ESCHEMABEHIND,
	}
	for _, code := range all {
		if _, ok := statusOfCode[code]; !ok {
			t.Errorf("error code %q has no HTTP status", code)
		}
	}
	for code, status := range statusOfCode {
		if got := httpStatus(domain.Errorf(code, "x")); got != status {
			t.Errorf("httpStatus(%s) = %d, want %d", code, got, status)
		}
	}
	if got := httpStatus(echo.ErrNotFound); got != http.StatusNotFound {
		t.Errorf("httpStatus(echo.ErrNotFound) = %d", got)
	}
	if got := httpStatus(errors.New("x")); got != http.StatusInternalServerError {
		t.Errorf("httpStatus(plain) = %d", got)
	}
}

func TestNewNeedsStoreAndBaseURL(t *testing.T) {
	if _, err := New(Options{BaseURL: testBaseURL}); err == nil {
		t.Error("New without a store succeeded")
	}
	st := &fakeStore{}
	for _, base := range []string{"", "portal.example.com", "ftp://portal.example.com", "https://"} {
		if _, err := New(Options{Store: st, BaseURL: base}); err == nil {
			t.Errorf("New with base URL %q succeeded", base)
		}
	}
}
