package web

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/auth"
)

// TestLogin: a wrong password and an unknown e-mail read the same; a
// right one signs in, rotating the session, and goes where it was asked
// to (a path of this site only); logout ends the session server-side.
func TestLogin(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvAt(t, be.url(t))
			a := e.newAccount("one", "H2X 1Y4")
			b := e.browser()

			wrong := b.post("/login", url.Values{"email": {a.primary.Email}, "password": {"wrong password 1"}})
			unknown := b.post("/login", url.Values{"email": {"nobody@example.com"}, "password": {"wrong password 1"}})
			wantPage(t, wrong, http.StatusUnauthorized, "Adresse courriel ou mot de passe incorrect.")
			wantPage(t, unknown, http.StatusUnauthorized, "Adresse courriel ou mot de passe incorrect.")
			if strip(wrong.Body.String(), a.primary.Email) != strip(unknown.Body.String(), "nobody@example.com") {
				t.Error("a wrong password and an unknown e-mail give different pages")
			}
			wantPage(t, b.post("/login", url.Values{"email": {a.primary.Email}}), http.StatusBadRequest, "Entrez votre adresse courriel et votre mot de passe.")
			if b.session() != "" {
				t.Fatal("a failed login set a session")
			}

			// A session cookie planted before sign-in is not the one after.
			b.cookies[sessionCookie] = &http.Cookie{Name: sessionCookie, Value: "planted"}
			wantRedirect(t, b.post("/login", url.Values{"email": {strings.ToUpper(a.primary.Email)}, "password": {testPassword},
				"next": {"/equipment"}}), "/equipment")
			first := b.session()
			if first == "" || first == "planted" {
				t.Fatalf("session after login = %q", first)
			}
			wantPage(t, b.get("/equipment"), http.StatusOK, a.device.Serial)
			wantPage(t, b.get("/dashboard"), http.StatusOK, "Company one", "Commander des fournitures", "Contactez-nous")

			// Signing in again rotates the id and deletes the old session.
			old := b.cookies[sessionCookie]
			b.login(a.primary.Email)
			if b.session() == first {
				t.Error("the session id did not change at sign-in")
			}
			stale := e.browser()
			stale.cookies[sessionCookie] = old
			wantRedirect(t, stale.get("/dashboard"), "/login?next=%2Fdashboard")

			// An outside "next" is ignored.
			for _, next := range []string{"//evil.example/x", "https://evil.example", "/\\evil.example"} {
				wantRedirect(t, e.browser().post("/login", url.Values{"email": {a.primary.Email}, "password": {testPassword}, "next": {next}}), "/dashboard")
			}

			// Logout: the cookie goes, and the session is gone server-side.
			cookie := b.cookies[sessionCookie]
			wantRedirect(t, b.post("/logout", nil), "/login?done=signed_out")
			if b.session() != "" {
				t.Error("logout left the session cookie")
			}
			replay := e.browser()
			replay.cookies[sessionCookie] = cookie
			wantRedirect(t, replay.get("/dashboard"), "/login?next=%2Fdashboard")
			wantPage(t, b.get("/login?done=signed_out"), http.StatusOK, "Vous êtes déconnecté.")
		})
	}
}

// strip removes s and the CSRF token from page, so that pages echoing
// two addresses, seen by two browsers, compare.
func strip(page, s string) string {
	return csrfValue.ReplaceAllString(strings.ReplaceAll(page, s, ""), "")
}

var csrfValue = regexp.MustCompile(`name="csrf" value="[^"]*"`)

// TestLoginPageOfASignedInUser goes on to where it would after sign-in.
func TestLoginPageOfASignedInUser(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	b := e.browser()
	b.login(a.primary.Email)
	wantRedirect(t, b.get("/login"), "/dashboard")
	wantRedirect(t, b.get("/login?next=/equipment"), "/equipment")
}

// TestSessionCookie: HttpOnly, SameSite=Lax, Path=/, and Secure over
// HTTPS or when the portal is told to.
func TestSessionCookie(t *testing.T) {
	tests := []struct {
		name       string
		force      bool
		header     []string
		wantSecure bool
	}{
		{"plain HTTP", false, nil, false},
		{"behind a TLS proxy", false, []string{"X-Forwarded-Proto", "https"}, true},
		// A remote client, not on this box: an IPv6 documentation address,
		// only written into the request, never dialled.
		{"a client claiming TLS", false, []string{"X-Forwarded-Proto", "https", "client", "2001:db8::7"}, false},
		{"forced", true, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.SecureCookies = tt.force })
			a := e.newAccount("one", "H2X 1Y4")
			b := e.browser()
			b.addr = "127.0.0.1" // the TLS proxy, on the same box
			for i := 0; i+1 < len(tt.header); i += 2 {
				if tt.header[i] == "client" {
					b.addr = tt.header[i+1]
					continue
				}
				b.header.Set(tt.header[i], tt.header[i+1])
			}
			b.login(a.primary.Email)
			c := b.cookies[sessionCookie]
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != tt.wantSecure {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, Secure=%v", c, tt.wantSecure)
			}
			if csrf := b.cookies["ml_csrf"]; !csrf.HttpOnly || csrf.SameSite != http.SameSiteLaxMode || csrf.Secure != tt.wantSecure {
				t.Errorf("CSRF cookie %+v: want HttpOnly, SameSite=Lax, Secure=%v", csrf, tt.wantSecure)
			}
		})
	}
}

// TestSessionExpiry: a session idle for the idle limit, or older than its
// maximum age however busy, is over: the user signs in again.
func TestSessionExpiry(t *testing.T) {
	policy := auth.SessionPolicy{Idle: time.Hour, MaxAge: 4 * time.Hour}
	e := newEnv(t, func(o *Options) { o.Sessions = policy })
	a := e.newAccount("one", "H2X 1Y4")

	b := e.browser()
	b.login(a.primary.Email)
	e.clock.Advance(59 * time.Minute)
	wantPage(t, b.get("/dashboard"), http.StatusOK) // seen again: the idle time restarts
	e.clock.Advance(59 * time.Minute)
	wantPage(t, b.get("/dashboard"), http.StatusOK)
	e.clock.Advance(time.Hour)
	wantRedirect(t, b.get("/dashboard"), "/login?next=%2Fdashboard")
	if b.session() != "" {
		t.Error("an expired session kept its cookie")
	}

	b = e.browser()
	b.login(a.primary.Email)
	for range 7 { // busy every 30 minutes, up to 3h30
		e.clock.Advance(30 * time.Minute)
		wantPage(t, b.get("/dashboard"), http.StatusOK)
	}
	e.clock.Advance(30 * time.Minute) // 4h: the maximum age
	wantRedirect(t, b.get("/dashboard"), "/login?next=%2Fdashboard")
}

// TestLoginRateLimit: past the limit per e-mail, even the right password
// is refused with the same message whether the e-mail has an account or
// not; the limit per client address holds across e-mails; both lift when
// the window has passed. The counts are in the database: a second server
// on it (another replica) sees them.
func TestLoginRateLimit(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			dbURL := be.url(t)
			limits := Limits{Login: RateLimit{Window: 15 * time.Minute, PerEmail: 3, PerAddress: 5}, Reset: DefaultLimits.Reset, Register: DefaultLimits.Register}
			e := newEnvAt(t, dbURL, func(o *Options) { o.Limits = limits })
			a := e.newAccount("one", "H2X 1Y4")
			replica, err := New(Options{Store: e.st, Version: "test", Now: e.clock.Now, BaseURL: testBaseURL, Passwords: auth.TestParams, Limits: limits})
			if err != nil {
				t.Fatal(err)
			}
			wrong := url.Values{"email": {a.primary.Email}, "password": {"wrong password 1"}}
			b := e.browser()
			for range 3 {
				wantPage(t, b.post("/login", wrong), http.StatusUnauthorized)
			}
			other := &env{t: t, st: e.st, srv: replica, clock: e.clock}
			rb := other.browser()
			limited := rb.post("/login", url.Values{"email": {a.primary.Email}, "password": {testPassword}})
			wantPage(t, limited, http.StatusTooManyRequests, "Trop de tentatives.")
			ghost := b.post("/login", url.Values{"email": {"ghost@example.com"}, "password": {"x"}})
			wantPage(t, ghost, http.StatusUnauthorized) // 5th from this address, first for this e-mail
			ghost = b.post("/login", url.Values{"email": {"ghost2@example.com"}, "password": {"x"}})
			wantPage(t, ghost, http.StatusTooManyRequests, "Trop de tentatives.") // 6th from this address
			if strip(limited.Body.String(), a.primary.Email) != strip(ghost.Body.String(), "ghost2@example.com") {
				t.Errorf("the rate-limited page differs for an e-mail with an account and one without:\n%s\n---\n%s", strip(limited.Body.String(), a.primary.Email), strip(ghost.Body.String(), "ghost2@example.com"))
			}

			// Another client may still try another e-mail; the limited one
			// stays limited.
			c := e.browser()
			c.addr = "127.0.4.7"
			wantPage(t, c.post("/login", url.Values{"email": {a.primary.Email}, "password": {testPassword}}), http.StatusTooManyRequests)

			e.clock.Advance(15*time.Minute + time.Second)
			b.login(a.primary.Email)
		})
	}
}

// TestLoginClearsFailuresOfItsEmail: a success forgets the e-mail's
// failures, so a user who mistyped twice is not locked out later.
func TestLoginClearsFailuresOfItsEmail(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.Login = RateLimit{Window: time.Hour, PerEmail: 3, PerAddress: 100} })
	a := e.newAccount("one", "H2X 1Y4")
	b := e.browser()
	for range 2 {
		b.post("/login", url.Values{"email": {a.primary.Email}, "password": {"typo typo 1"}})
	}
	b.login(a.primary.Email)
	for range 2 {
		b.post("/login", url.Values{"email": {a.primary.Email}, "password": {"typo typo 1"}})
	}
	b.login(a.primary.Email)
}

// TestLoginRehashesOldHashes: a password stored under other argon2id
// parameters is rehashed under the current ones at sign-in.
func TestLoginRehashesOldHashes(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	old, _ := auth.NewHasher(auth.Params{Memory: 32, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	h, _ := old.Hash(testPassword)
	ctx := context.Background()
	if err := e.st.SetPasswordHash(ctx, a.primary.ID, h); err != nil {
		t.Fatal(err)
	}
	e.browser().login(a.primary.Email)
	u, err := e.st.User(ctx, a.primary.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(*u.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash after sign-in = %s, want the current parameters", *u.PasswordHash)
	}
	e.browser().login(a.primary.Email) // and it still works
}

// TestCSRF: every state-changing request needs the token of its form (or
// a browser's Sec-Fetch-Site: same-origin); the bearer-token API does not.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	form := url.Values{"email": {a.primary.Email}, "password": {testPassword}}

	b := e.browser()
	wantPage(t, b.postRaw("/login", form), http.StatusForbidden, "Ce formulaire a expiré")
	b.get("/login") // the CSRF cookie
	wrong := url.Values{"email": form["email"], "password": form["password"], csrfField: {"not-the-token"}}
	wantPage(t, b.postRaw("/login", wrong), http.StatusForbidden, "Ce formulaire a expiré")
	b.header.Set("Sec-Fetch-Site", "cross-site")
	wantPage(t, b.post("/login", form), http.StatusForbidden)
	b.header.Del("Sec-Fetch-Site")
	if b.session() != "" {
		t.Fatal("a refused request signed in")
	}
	b.login(a.primary.Email)

	// Signed in: profile changes and sign-out need the token as well.
	wantPage(t, b.postRaw("/profile", url.Values{"name": {"Mallory"}, "language": {"fr"}}), http.StatusForbidden)
	wantPage(t, b.postRaw("/logout", nil), http.StatusForbidden)
	wantPage(t, b.get("/dashboard"), http.StatusOK, "Primary one")

	// A browser that says the form is its own needs no token.
	b.header.Set("Sec-Fetch-Site", "same-origin")
	wantRedirect(t, b.postRaw("/profile", url.Values{"name": {"Jean Picard"}, "language": {"fr"}}), "/profile?done=profile_saved")
	b.header.Del("Sec-Fetch-Site")

	// The page's forms carry the token of the cookie.
	page := b.get("/profile").Body.String()
	if !strings.Contains(page, `name="csrf" value="`+b.cookies["ml_csrf"].Value+`"`) {
		t.Error("the profile's forms lack the CSRF token")
	}

	// The API answers its bearer check, not a CSRF refusal.
	api := e.browser().postRaw("/api/v1/accounts", nil)
	if api.Code != http.StatusUnauthorized {
		t.Errorf("POST /api/v1/accounts without a token = %d, want 401 from the bearer check", api.Code)
	}
}

// TestClientAddress: X-Forwarded-For counts only from a trusted proxy.
func TestClientAddress(t *testing.T) {
	_, proxies, _ := net.ParseCIDR("127.0.3.0/24")
	tests := []struct {
		proxies   bool
		remote    string
		forwarded string
		wantKey   string
	}{
		{false, "127.0.4.1", "127.0.2.99", "127.0.4.1"},
		{true, "127.0.4.1", "127.0.2.99", "127.0.4.1"},
		{true, "127.0.3.5", "127.0.2.99", "127.0.2.99"},
		{false, "2001:db8:1:2:3:4:5:6", "", "2001:db8:1:2::/64"},
	}
	for _, tt := range tests {
		var ps []*net.IPNet
		if tt.proxies {
			ps = append(ps, proxies)
		}
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = net.JoinHostPort(tt.remote, "1234")
		if tt.forwarded != "" {
			req.Header.Set("X-Forwarded-For", tt.forwarded)
		}
		if got := addressKey(clientAddress(ps)(req)); got != tt.wantKey {
			t.Errorf("proxies %v, remote %s, XFF %s: counted as %s, want %s", tt.proxies, tt.remote, tt.forwarded, got, tt.wantKey)
		}
	}
}
