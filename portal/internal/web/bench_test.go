package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkSignedInPage measures a signed-in page, session and roles read
// from the database, against the anonymous sign-in page.
func BenchmarkSignedInPage(b *testing.B) {
	e := newEnv(b)
	a := e.newAccount("one", "H2X 1Y4")
	br := e.browser()
	br.login(a.primary.Email)
	cookie := br.cookies[sessionCookie]
	// /login redirects a signed-in user: the cost of reading the session.
	for _, path := range []string{"/login", "/dashboard"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.AddCookie(cookie)
				rec := httptest.NewRecorder()
				e.srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK && rec.Code != http.StatusSeeOther {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
