package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/store/storetest"
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
		b.Run(path, func(b *testing.B) { benchGet(b, e.srv, cookie, path) })
	}
}

// benchGet measures GET path with the session cookie: answered 200, or
// 303 for a redirect.
func benchGet(b *testing.B, srv http.Handler, cookie *http.Cookie, path string) {
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusSeeOther {
			b.Fatal(rec.Code)
		}
		b.SetBytes(int64(rec.Body.Len()))
	}
}

// BenchmarkEquipmentPage is My equipment of an account of 500 devices
// (each with a read and its supplies), a page of 50, as wrk asks for it
// (bench/portal-pages), on each database: where the page's time goes.
func BenchmarkEquipmentPage(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			e := newEnvAt(b, be.url(b))
			a := e.newAccount("one", "H2X 1Y4")
			db := sqlx.NewDb(e.st.DB(), string(e.st.Dialect()))
			if err := storetest.InsertFleet(context.Background(), db, storetest.Fleet{AccountID: a.ID, ContractID: a.contract.ID,
				LocationIDs: []int64{a.location.ID}, Devices: 499, Prefix: "EQ-", ReadAt: e.clock.Now().Add(-time.Hour)}); err != nil {
				b.Fatal(err)
			}
			br := e.browser()
			br.login(a.primary.Email)
			cookie := br.cookies[sessionCookie]
			for _, path := range []string{"/equipment", "/equipment?page=10", "/dashboard"} {
				b.Run(path, func(b *testing.B) { benchGet(b, e.srv, cookie, path) })
			}
		})
	}
}
