package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/schema/schematest"
)

// apiBackends are the databases the API tests run against: SQLite always,
// PostgreSQL when schematest.EnvPostgres is set.
var apiBackends = []struct {
	name string
	url  func(testing.TB) string
}{
	{"sqlite", schematest.SQLiteURL},
	{"postgres", schematest.PostgresURL},
}

// apiEnv is a server with the API over a real store, and tokens of every
// kind.
type apiEnv struct {
	h                                     http.Handler
	st                                    *store.Store
	read, write, expired, revoked, forged string
}

func newAPIEnv(t *testing.T, url string) apiEnv {
	t.Helper()
	storetest.Seed(t, url)
	ctx := context.Background()
	st, err := store.Open(ctx, url, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	t0 := time.Now().UTC()
	st.SetClock(func() time.Time { return t0 })
	env := apiEnv{st: st, forged: "mlt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
	mk := func(name string, scope store.TokenScope, ttl time.Duration) (store.APIToken, string) {
		tok, secret, err := st.CreateToken(ctx, name, scope, ttl)
		if err != nil {
			t.Fatalf("CreateToken %s: %v", name, err)
		}
		return tok, secret
	}
	_, env.read = mk("reader", store.ScopeRead, 0)
	_, env.write = mk("writer", store.ScopeWrite, 720*time.Hour)
	_, env.expired = mk("expired", store.ScopeWrite, time.Hour)
	rev, secret := mk("revoked", store.ScopeWrite, 0)
	env.revoked = secret
	if err := st.RevokeToken(ctx, rev.ID); err != nil {
		t.Fatal(err)
	}
	// Two hours on: the one-hour token has expired, the 720 h one has not.
	st.SetClock(func() time.Time { return t0.Add(2 * time.Hour) })
	s, err := New(Options{Store: st, API: st, Version: "test", BaseURL: testBaseURL})
	if err != nil {
		t.Fatal(err)
	}
	env.h = s
	return env
}

// call serves one API request with a bearer token ("" for none) and a body.
func (e apiEnv) call(t *testing.T, token, method, target, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func (e apiEnv) json(t *testing.T, token, method, target, body string, wantStatus int, out any) {
	t.Helper()
	rec := e.call(t, token, method, target, "application/json", body)
	if rec.Code != wantStatus {
		t.Fatalf("%s %s: status %d (%s), want %d", method, target, rec.Code, rec.Body, wantStatus)
	}
	if ct := rec.Header().Get("Content-Type"); rec.Code != http.StatusNoContent && !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q", method, target, ct)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, target, err, rec.Body)
		}
	}
}

// errorCode is the code of an API error body.
func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var b apiErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("error body %q: %v", rec.Body, err)
	}
	return b.Error.Code
}

// TestAPIAuthEveryRoute sends each route of the table no token, a forged,
// an expired and a revoked token (401), and a read token (403 on write
// routes, let through on read routes).
func TestAPIAuthEveryRoute(t *testing.T) {
	for _, b := range apiBackends {
		t.Run(b.name, func(t *testing.T) {
			env := newAPIEnv(t, b.url(t))
			var s Server
			for _, r := range s.apiRoutes() {
				path := apiPrefix + strings.NewReplacer(":number", "C1", ":id", "1", ":kind", "devices").Replace(r.path)
				for _, tc := range []struct{ name, token string }{
					{"none", ""}, {"forged", env.forged}, {"expired", env.expired}, {"revoked", env.revoked}, {"not bearer", "-"},
				} {
					rec := env.call(t, tc.token, r.method, path, "application/json", "{}")
					if tc.name == "not bearer" {
						req := httptest.NewRequest(r.method, path, nil)
						req.Header.Set("Authorization", "Basic "+env.write)
						rec = httptest.NewRecorder()
						env.h.ServeHTTP(rec, req)
					}
					if rec.Code != http.StatusUnauthorized || errorCode(t, rec) != "unauthorized" {
						t.Errorf("%s %s with %s token: %d %s, want 401", r.method, path, tc.name, rec.Code, rec.Body)
					}
				}
				rec := env.call(t, env.read, r.method, path, "application/json", "{}")
				switch {
				case r.scope == store.ScopeWrite && (rec.Code != http.StatusForbidden || errorCode(t, rec) != "forbidden"):
					t.Errorf("%s %s with a read token: %d %s, want 403", r.method, path, rec.Code, rec.Body)
				case r.scope == store.ScopeRead && (rec.Code == http.StatusUnauthorized || rec.Code == http.StatusForbidden):
					t.Errorf("%s %s with a read token: %d %s, want it let through", r.method, path, rec.Code, rec.Body)
				}
			}
		})
	}
}

func TestAPIEndpoints(t *testing.T) {
	for _, b := range apiBackends {
		t.Run(b.name, func(t *testing.T) {
			env := newAPIEnv(t, b.url(t))
			w, r := env.write, env.read
			var acc apiAccount
			env.json(t, w, "POST", "/api/v1/accounts", `{"customer_number":"C1","name":"ABC Co","language":"fr"}`, 201, &acc)
			env.json(t, w, "POST", "/api/v1/accounts", `{"customer_number":"C1","name":"Again","language":"fr"}`, 409, nil)
			env.json(t, w, "POST", "/api/v1/accounts", `{"customer_number":"C2","name":"X","language":"de"}`, 400, nil)
			env.json(t, w, "POST", "/api/v1/accounts", `not json`, 400, nil)
			var accs []apiAccount
			env.json(t, r, "GET", "/api/v1/accounts", "", 200, &accs)
			if len(accs) != 1 || accs[0].CustomerNumber != "C1" {
				t.Errorf("accounts = %+v", accs)
			}
			var got apiAccount
			env.json(t, r, "GET", "/api/v1/accounts/C1", "", 200, &got)
			if got.ID != acc.ID || got.Name != "ABC Co" || got.Language != "fr" {
				t.Errorf("account C1 = %+v", got)
			}
			env.json(t, r, "GET", "/api/v1/accounts/NOPE", "", 404, nil)

			var loc apiLocation
			env.json(t, w, "POST", "/api/v1/accounts/C1/locations", `{"attention":"Jean","company":"ABC Co","city":"Montréal","country":"CA"}`, 201, &loc)
			var locs []apiLocation
			env.json(t, r, "GET", "/api/v1/accounts/C1/locations", "", 200, &locs)
			if len(locs) != 1 || locs[0].ID != loc.ID || locs[0].City != "Montréal" {
				t.Errorf("locations = %+v", locs)
			}
			env.json(t, w, "POST", "/api/v1/accounts/NOPE/locations", `{}`, 404, nil)

			var k apiContract
			env.json(t, w, "POST", "/api/v1/accounts/C1/contracts", `{"number":"K1","billing_period":"quarterly","bills_black":true,"start":"2026-01-01","expected_monthly_volume":5000}`, 201, &k)
			env.json(t, w, "POST", "/api/v1/accounts/C1/contracts", `{"number":"K2","billing_period":"quarterly","bills_black":true,"start":"01/01/2026"}`, 400, nil)
			env.json(t, w, "POST", "/api/v1/accounts/C1/contracts", `{"number":"K3","billing_period":"quarterly","start":"2026-01-01"}`, 400, nil)
			var ks []apiContract
			env.json(t, r, "GET", "/api/v1/accounts/C1/contracts", "", 200, &ks)
			if len(ks) != 1 || ks[0].Number != "K1" || ks[0].Start != "2026-01-01" || ks[0].End != nil {
				t.Errorf("contracts = %+v", ks)
			}

			var d apiDevice
			body := `{"serial":" ab123 ","model":"IM C3000","product_code":"MX1","contract_id":` + itoa(k.ID) + `,"location_id":` + itoa(loc.ID) + `}`
			env.json(t, w, "POST", "/api/v1/devices", body, 201, &d)
			if d.Serial != "AB123" || d.State != "active" || d.Replenishment != "eligible" || d.AccountID != acc.ID {
				t.Errorf("device = %+v", d)
			}
			env.json(t, w, "POST", "/api/v1/devices", body, 409, nil)
			env.json(t, w, "POST", "/api/v1/devices", `{"serial":"X9","contract_id":999999}`, 404, nil)
			env.json(t, w, "PUT", "/api/v1/devices/"+itoa(d.ID)+"/state", `{"state":"pending_removal"}`, 204, nil)
			env.json(t, w, "PUT", "/api/v1/devices/"+itoa(d.ID)+"/state", `{"state":"gone"}`, 400, nil)
			env.json(t, w, "PUT", "/api/v1/devices/999999/state", `{"state":"removed"}`, 404, nil)
			env.json(t, w, "PUT", "/api/v1/devices/abc/state", `{"state":"removed"}`, 400, nil)
			var ds []apiDevice
			env.json(t, r, "GET", "/api/v1/accounts/C1/devices", "", 200, &ds)
			if len(ds) != 1 || ds[0].State != "pending_removal" || ds[0].ProductCode != "MX1" {
				t.Errorf("devices = %+v", ds)
			}
			changes, err := env.st.StateChanges(context.Background(), store.EntityDevice, d.ID)
			if err != nil || len(changes) != 3 || changes[2].BySystem == nil || *changes[2].BySystem != "api:writer" {
				t.Errorf("state changes = %+v, %v; want 3, the last by api:writer", changes, err)
			}
			// No such route: a JSON 404, not the HTML page.
			rec := env.call(t, w, "GET", "/api/v1/nothing", "", "")
			if rec.Code != 404 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Errorf("unknown route: %d %q", rec.Code, rec.Header().Get("Content-Type"))
			}
		})
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
