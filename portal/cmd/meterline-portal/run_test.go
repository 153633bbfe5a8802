package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/auth"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/ready"
	"github.com/meterline/meterline/shared/schema/schematest"
)

// syncBuffer collects what run logs; it is written from run's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startPortal runs the portal with args and the address 127.0.0.1:0, waits
// for its ready file and returns its base URL. The portal is stopped, and
// must return no error, when the test ends.
func startPortal(t *testing.T, args ...string) string {
	t.Helper()
	return startPortalAt(t, time.Now, args...)
}

// startPortalAt is startPortal on the clock now (runAt).
func startPortalAt(t *testing.T, now func() time.Time, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	readyFile := filepath.Join(t.TempDir(), "ready.json")
	go func() {
		done <- runAt(ctx, now, append([]string{"-listen", "127.0.0.1:0", "-ready-file", readyFile, "-upload-dir", filepath.Join(t.TempDir(), "uploads")}, args...), io.Discard, logs)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v after shutdown\nlogs:\n%s", err, logs)
		}
	})
	timeout := time.After(30 * time.Second)
	for {
		addrs, err := ready.Read(readyFile)
		if err == nil {
			return "http://" + addrs["http"]
		}
		if !ready.IsNotReady(err) {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("the portal stopped before listening: %v\nlogs:\n%s", err, logs)
		case <-timeout:
			t.Fatalf("the portal wrote no ready file\nlogs:\n%s", logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func get(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// staffPassword is the password of the back-office user addStaff creates.
const staffPassword = "back office 2026"

// addStaff creates a back-office user, staff@supplier.example, in the
// migrated database of rawURL.
func addStaff(t *testing.T, rawURL string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, err := auth.NewHasher(auth.TestParams)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := h.Hash(staffPassword)
	acc, err := st.CreateAccount(ctx, store.Account{CustomerNumber: "SUPPLIER", Name: "Supplier", Language: domain.LanguageEnglish})
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.CreateUser(ctx, store.User{Email: "staff@supplier.example", Name: "Staff", Language: domain.LanguageEnglish, PasswordHash: &hash})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddMembership(ctx, store.Membership{UserID: u.ID, AccountID: acc.ID, Role: domain.RoleBackOffice}, store.BySystem("test")); err != nil {
		t.Fatal(err)
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in to the portal at base with a cookie jar, as a browser
// does (the sign-in form's CSRF token included), and returns the client.
func signIn(t *testing.T, base, email, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the sign-in page:\n%s", page)
	}
	resp, err = c.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}, "csrf": {string(m[1])}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/dashboard" {
		t.Fatalf("sign-in ended at %d %s", resp.StatusCode, resp.Request.URL)
	}
	return c
}

func getWith(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunServesSeededDatabase(t *testing.T) {
	db := schematest.SQLiteURL(t)
	storetest.Seed(t, db, storetest.Sample(time.Now())...)
	addStaff(t, db)
	base := startPortal(t, "-database", db)

	if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q", code, body)
	}
	code, body := get(t, base+"/login", "Accept-Language", "en-GB,en;q=0.9")
	if code != http.StatusOK || !strings.Contains(body, `lang="en"`) || !strings.Contains(body, "Forgot your password?") {
		t.Errorf("GET /login = %d, want the English sign-in page", code)
	}
	c := signIn(t, base, "staff@supplier.example", staffPassword)
	code, body = getWith(t, c, base+"/backoffice/devices")
	if code != http.StatusOK {
		t.Fatalf("GET /backoffice/devices = %d", code)
	}
	for _, want := range []string{"3TB241507", "PHBBK12345", "128,450", "9,876,543", `lang="en"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the device page lacks %q", want)
		}
	}
}

// TestRunKeepsDevicesBehindSignIn: the device pages are no one's to see
// without signing in.
func TestRunKeepsDevicesBehindSignIn(t *testing.T) {
	db := schematest.SQLiteURL(t)
	storetest.Seed(t, db, storetest.Sample(time.Now())...)
	base := startPortal(t, "-database", db)
	for _, path := range []string{"/equipment", "/backoffice/devices", "/dashboard"} {
		code, body := get(t, base+path)
		if code != http.StatusOK || !strings.Contains(body, `action="/login"`) || strings.Contains(body, "3TB241507") {
			t.Errorf("GET %s without signing in = %d, want the sign-in page and no device", path, code)
		}
	}
	if code, _ := get(t, base+"/devices"); code != http.StatusNotFound {
		t.Errorf("GET /devices = %d: the public device list is gone", code)
	}
}

func TestRunFirstStartCreatesSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "meterline.db")
	base := startPortal(t, "-database", "sqlite:"+path)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database file was not created: %v", err)
	}
	code, body := get(t, base+"/login")
	if code != http.StatusOK || !strings.Contains(body, "Mot de passe oublié ?") {
		t.Errorf("GET /login on a new database = %d, want the French sign-in page:\n%s", code, body)
	}
}

func TestRunRefusesPostgresSchemaBehind(t *testing.T) {
	db := schematest.PostgresURL(t) // a fresh schema, never migrated
	err := run(context.Background(), []string{"-listen", "127.0.0.1:0", "-database", db}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "meterline-collector -migrate") {
		t.Fatalf("run on an unmigrated PostgreSQL database: %v; want a refusal telling to run meterline-collector -migrate", err)
	}
}

func TestRunServesPostgres(t *testing.T) {
	db := schematest.PostgresURL(t)
	storetest.Seed(t, db, storetest.Sample(time.Now())...)
	addStaff(t, db)
	base := startPortal(t, "-database", db)
	c := signIn(t, base, "staff@supplier.example", staffPassword)
	code, body := getWith(t, c, base+"/backoffice/devices?lang=fr")
	if code != http.StatusOK || !strings.Contains(body, "3TB241507") || !strings.Contains(body, "128\u202f450") {
		t.Errorf("GET /backoffice/devices = %d, want the Xerox and its total in French", code)
	}
}

func TestRunVersionAndHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-version"}, &out, io.Discard); err != nil {
		t.Fatalf("run -version: %v", err)
	}
	if !strings.HasPrefix(out.String(), "meterline-portal ") {
		t.Errorf("run -version printed %q", out.String())
	}
	var usage bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, io.Discard, &usage); err != nil {
		t.Errorf("run -h: %v", err)
	}
	if !strings.Contains(usage.String(), "-database") {
		t.Errorf("run -h printed %q", usage.String())
	}
	if err := run(context.Background(), []string{"-log-level", "loud"}, io.Discard, io.Discard); err == nil {
		t.Error("run -log-level loud succeeded")
	}
}

func TestRunListenError(t *testing.T) {
	err := run(context.Background(), []string{"-listen", "127.0.0.1:-1", "-database", schematest.SQLiteURL(t)}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Errorf("run on a bad address: %v", err)
	}
}

// TestRunHidesAMalformedDatabaseURL: the error names the URL without its
// password, in the error and in the log.
func TestRunHidesAMalformedDatabaseURL(t *testing.T) {
	for _, raw := range []string{
		"postgres://meterline:s3cret@db.internal:port/meterline",
		"mysql://meterline:s3cret@db.internal/meterline",
	} {
		var logs bytes.Buffer
		err := run(context.Background(), []string{"-listen", "127.0.0.1:0", "-database", raw}, io.Discard, &logs)
		if err == nil {
			t.Errorf("run -database %s succeeded", raw)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") || strings.Contains(logs.String(), "s3cret") {
			t.Errorf("the password shows:\nerror: %v\nlog: %s", err, logs.String())
		}
	}
}
