package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/auth"
	"github.com/meterline/meterline/portal/internal/mail/mailtest"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/portal/internal/upload"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema/schematest"
)

// This file is the test bench of the site's pages: a server over a real
// store (SQLite, or PostgreSQL in the tests that loop over backends), a
// clock the test moves, accounts with their users, a browser that keeps
// its cookies and carries the CSRF token, and a real SMTP server the
// outbox is delivered to.

// backends are the databases the page tests that touch the schema's
// guarantees run against: SQLite always, PostgreSQL when
// schematest.EnvPostgres is set.
var backends = []struct {
	name string
	url  func(testing.TB) string
}{
	{"sqlite", schematest.SQLiteURL},
	{"postgres", schematest.PostgresURL},
}

// testBaseURL is the public address the test server's e-mails link to.
const testBaseURL = "http://portal.test"

// testBackOffice is where the test server e-mails contact-us messages.
const testBackOffice = "backoffice@supplier.example"

// testClock is a clock the test moves; the store and the server share it.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a server over a real store, its clock and its mail catcher.
type env struct {
	t      testing.TB
	st     *store.Store
	srv    *Server
	clock  *testClock
	hasher *auth.Hasher
	smtp   *mailtest.Server
	// photos is where the meter-read photos go: a folder of the test's.
	photos *upload.Photos
}

// testPhotoMax is the test server's photo size limit: small, so that a
// test sends a file over it cheaply.
const testPhotoMax = 64 << 10

// newEnv starts a server on a fresh SQLite database.
func newEnv(t testing.TB, opts ...func(*Options)) *env {
	t.Helper()
	return newEnvAt(t, schematest.SQLiteURL(t), opts...)
}

// newEnvAt starts a server on the database of url.
func newEnvAt(t testing.TB, url string, opts ...func(*Options)) *env {
	t.Helper()
	storetest.Seed(t, url)
	st, err := store.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &testClock{now: testNow}
	st.SetClock(clock.Now)
	photos, err := upload.OpenPhotos(filepath.Join(t.TempDir(), "uploads"), testPhotoMax)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { photos.Close() })
	o := Options{Store: st, API: st, Version: "test", Now: clock.Now, Location: time.UTC, BaseURL: testBaseURL, Passwords: auth.TestParams,
		BackOfficeEmail: testBackOffice, Photos: photos}
	for _, f := range opts {
		f(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h, _ := auth.NewHasher(auth.TestParams)
	return &env{t: t, st: st, srv: srv, clock: clock, hasher: h, smtp: mailtest.Start(t), photos: o.Photos}
}

// deliver sends the outbox to the mail catcher and returns what arrived.
func (e *env) deliver() []mailtest.Message {
	e.t.Helper()
	return e.smtp.Deliver(e.t, e.st.DB(), e.st.Dialect(), e.clock.Now)
}

// testAccount is an account with one shipping location, one contract, one
// device under contract at the location and a primary user.
type testAccount struct {
	store.Account
	location store.Location
	contract store.Contract
	device   store.ContractedDevice
	primary  store.User
	// invitation is a pending delegate invitation, when the test made one
	// (env.invite).
	invitation store.Invitation
}

// testPassword is every test user's password.
const testPassword = "correct horse 1"

// newAccount creates an account whose name, customer number, serial,
// street, postal code and primary's e-mail are made from tag, so that a
// page showing any of them is caught.
func (e *env) newAccount(tag, postal string) testAccount {
	e.t.Helper()
	ctx := context.Background()
	var a testAccount
	var err error
	must := func(err error) {
		e.t.Helper()
		if err != nil {
			e.t.Fatal(err)
		}
	}
	a.Account, err = e.st.CreateAccount(ctx, store.Account{CustomerNumber: "CN-" + tag, Name: "Company " + tag, Language: domain.LanguageFrench})
	must(err)
	a.location, err = e.st.CreateLocation(ctx, store.Location{AccountID: a.ID, LocationAddress: store.LocationAddress{
		Company: "Company " + tag, Street: "1 Street " + tag, City: "Montréal", Province: "QC", PostalCode: postal, Country: "CA"}})
	must(err)
	a.contract, err = e.st.CreateContract(ctx, store.Contract{Number: "K-" + tag, AccountID: a.ID, BillingPeriod: domain.BillingQuarterly,
		BillsBlack: true, Start: testNow.AddDate(0, -1, 0)})
	must(err)
	a.device, err = e.st.PutDeviceUnderContract(ctx, store.ContractedDevice{Serial: "SN" + strings.ToUpper(tag), Model: "Model " + tag,
		ContractID: a.contract.ID, LocationID: &a.location.ID}, store.BySystem("test"))
	must(err)
	a.primary = e.newUser("primary."+strings.ToLower(tag)+"@example.com", "Primary "+tag)
	e.addRole(a.primary, a.ID, domain.RolePrimary)
	return a
}

// newUser creates a user with testPassword.
func (e *env) newUser(email, name string) store.User {
	e.t.Helper()
	h, err := e.hasher.Hash(testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.st.CreateUser(context.Background(), store.User{Email: email, Name: name, Phone: "555-" + name, Language: domain.LanguageFrench, PasswordHash: &h})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) addRole(u store.User, accountID int64, role domain.Role) {
	e.t.Helper()
	if _, err := e.st.AddMembership(context.Background(), store.Membership{UserID: u.ID, AccountID: accountID, Role: role}, store.BySystem("test")); err != nil {
		e.t.Fatal(err)
	}
}

// browser is a client of the test server: it keeps cookies as a browser
// does and puts the CSRF token in the forms it posts.
type browser struct {
	e       *env
	addr    string
	cookies map[string]*http.Cookie
	header  http.Header
}

// browser returns a browser at client address 127.0.2.1.
func (e *env) browser() *browser {
	return &browser{e: e, addr: "127.0.2.1", cookies: map[string]*http.Cookie{}, header: http.Header{}}
}

func (b *browser) do(req *http.Request) *httptest.ResponseRecorder {
	b.e.t.Helper()
	req.RemoteAddr = b.addr + ":40000"
	for k, v := range b.header {
		req.Header[k] = v
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.e.srv.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
			continue
		}
		b.cookies[c.Name] = c
	}
	return rec
}

// get requests a page.
func (b *browser) get(target string) *httptest.ResponseRecorder {
	b.e.t.Helper()
	return b.do(httptest.NewRequest(http.MethodGet, target, nil))
}

// post submits a form with the CSRF token of the browser's cookie (a page
// is loaded first when the browser has none yet).
func (b *browser) post(target string, form url.Values) *httptest.ResponseRecorder {
	b.e.t.Helper()
	if b.cookies["ml_csrf"] == nil {
		b.get("/login")
	}
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	if f.Get(csrfField) == "" {
		if c := b.cookies["ml_csrf"]; c != nil {
			f.Set(csrfField, c.Value)
		}
	}
	return b.postRaw(target, f)
}

// postRaw submits a form as given, CSRF token or not.
func (b *browser) postRaw(target string, form url.Values) *httptest.ResponseRecorder {
	b.e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// login signs in and fails the test unless it worked.
func (b *browser) login(email string) {
	b.e.t.Helper()
	rec := b.post("/login", url.Values{"email": {email}, "password": {testPassword}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/dashboard" {
		b.e.t.Fatalf("login %s = %d to %q:\n%s", email, rec.Code, rec.Header().Get("Location"), rec.Body)
	}
}

// session is the browser's session cookie, "" when it has none.
func (b *browser) session() string {
	if c := b.cookies[sessionCookie]; c != nil {
		return c.Value
	}
	return ""
}

// wantRedirect fails unless rec redirects to target.
func wantRedirect(t *testing.T, rec *httptest.ResponseRecorder, target string) {
	t.Helper()
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != target {
		t.Errorf("got %d to %q, want 303 to %q\n%s", rec.Code, rec.Header().Get("Location"), target, rec.Body)
	}
}

// wantPage fails unless rec has the status and its body every string.
func wantPage(t *testing.T, rec *httptest.ResponseRecorder, status int, contains ...string) {
	t.Helper()
	if rec.Code != status {
		t.Errorf("status %d, want %d\n%s", rec.Code, status, rec.Body)
		return
	}
	body := rec.Body.String()
	for _, s := range contains {
		if !strings.Contains(body, s) {
			t.Errorf("the page lacks %q\n%s", s, body)
		}
	}
}

var hiddenToken = regexp.MustCompile(`name="token" value="([^"]+)"`)

// formToken is the one-time token a page's form carries.
func formToken(t *testing.T, body string) string {
	t.Helper()
	m := hiddenToken.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no token field in the page:\n%s", body)
	}
	return m[1]
}
