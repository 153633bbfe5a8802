package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/auth"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// TestEveryRouteIsInATable: every route echo serves comes from the page
// route table or the API's, so no route escapes authorize, requireScope
// or the cross-account walker.
func TestEveryRouteIsInATable(t *testing.T) {
	e := newEnv(t)
	known := map[string]bool{}
	for _, r := range e.srv.pageRoutes() {
		known[r.method+" "+r.path] = true
	}
	for _, r := range e.srv.apiRoutes() {
		known[r.method+" "+apiPrefix+r.path] = true
	}
	for _, r := range e.srv.echo.Routes() {
		if strings.HasPrefix(r.Name, "github.com/labstack/echo") { // echo's own 404/405 handlers
			continue
		}
		if !known[r.Method+" "+r.Path] {
			t.Errorf("%s %s is served but in no route table: add it to pageRoutes with its access level", r.Method, r.Path)
		}
	}
}

// TestRouteTable: every route names a real access level, none twice; a
// route with a path parameter is for a member or the back office (its
// object belongs to an account); every tile of the dashboard is a page.
func TestRouteTable(t *testing.T) {
	e := newEnv(t)
	seen := map[string]bool{}
	get := map[string]bool{}
	for _, r := range e.srv.pageRoutes() {
		key := r.method + " " + r.path
		if seen[key] {
			t.Errorf("%s is in the route table twice", key)
		}
		seen[key] = true
		if r.access < anyone || r.access > backOffice {
			t.Errorf("%s has no access level", key)
		}
		if r.handle == nil {
			t.Errorf("%s has no handler", key)
		}
		if r.method == http.MethodGet {
			get[r.path] = true
		}
	}
	for _, tl := range tiles {
		if !get[tl.path] {
			t.Errorf("tile %s links to %s, which is no page: a dead link", tl.key, tl.path)
		}
	}
}

// TestAccessLevels: anonymous visitors are sent to sign in, users with no
// account and delegates are refused what is not theirs, the back office's
// pages do not exist for others.
func TestAccessLevels(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	delegate := e.newUser("delegate@example.com", "Delegate")
	e.addRole(delegate, a.ID, domain.RoleDelegate)
	loner := e.newUser("loner@example.com", "Loner")
	staff := e.newUser("staff@supplier.example", "Staff")
	supplier := e.newAccount("supplier", "H3B 2Y5")
	e.addRole(staff, supplier.ID, domain.RoleBackOffice)

	anon := e.browser()
	wantRedirect(t, anon.get("/dashboard"), "/login?next=%2Fdashboard")
	wantRedirect(t, anon.get("/equipment?lang=en"), "/login?next=%2Fequipment%3Flang%3Den")
	wantRedirect(t, anon.get("/backoffice/devices"), "/login?next=%2Fbackoffice%2Fdevices")
	wantRedirect(t, anon.post("/profile", url.Values{"name": {"x"}}), "/login")
	wantPage(t, anon.get("/login?lang=fr"), http.StatusOK, "Mot de passe oublié ?")

	lb := e.browser()
	lb.login(loner.Email)
	wantPage(t, lb.get("/dashboard"), http.StatusOK, "Aucun compte pour l&#39;instant")
	wantPage(t, lb.get("/equipment"), http.StatusForbidden, "Votre accès n&#39;est lié à aucun compte")
	wantPage(t, lb.get("/order"), http.StatusForbidden)
	wantPage(t, lb.get("/profile"), http.StatusOK, "loner@example.com")
	wantPage(t, lb.get("/backoffice/devices"), http.StatusNotFound)

	db := e.browser()
	db.login(delegate.Email)
	wantPage(t, db.get("/equipment"), http.StatusOK, a.device.Serial)
	wantPage(t, db.get("/dashboard"), http.StatusOK, "Company one", "délégué")
	wantPage(t, db.get("/backoffice/devices"), http.StatusNotFound)

	sb := e.browser()
	sb.login(staff.Email)
	wantPage(t, sb.get("/backoffice/devices"), http.StatusOK, a.device.Serial, supplier.device.Serial)
}

// TestComingPages: a tile whose page is still to come says so.
func TestComingPages(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	b := e.browser()
	b.login(a.primary.Email)
	for _, tl := range tiles {
		if !tl.coming {
			continue
		}
		wantPage(t, b.get(tl.path), http.StatusOK, "Cette page arrive dans une prochaine version du portail.")
		wantPage(t, b.get(tl.path+"?lang=en"), http.StatusOK, "This page comes in a next version of the portal.")
	}
	dash := b.get("/dashboard").Body.String()
	for _, tl := range tiles {
		if strings.Count(dash, `href="`+tl.path+`"`) < 3 { // the menu, the tile's title and its link
			t.Errorf("the dashboard does not link %s from its menu and tile", tl.path)
		}
	}
}

// TestSwitchAccount: a user acting for two accounts switches between them;
// an account of which the user is no member is 404, and changes nothing.
func TestSwitchAccount(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	other := e.newAccount("two", "J3X 0E1")
	foreign := e.newAccount("three", "G1K 3J4")
	e.addRole(a.primary, other.ID, domain.RoleDelegate)
	b := e.browser()
	b.login(a.primary.Email)
	wantPage(t, b.get("/equipment"), http.StatusOK, a.device.Serial)
	if strings.Contains(b.get("/equipment").Body.String(), other.device.Serial) {
		t.Error("the equipment page shows another account's device")
	}
	wantPage(t, b.get("/dashboard"), http.StatusOK, "Autres comptes pour lesquels je suis autorisé à commander", "Company two")

	wantRedirect(t, b.post("/accounts/"+strconv.FormatInt(other.ID, 10)+"/current", nil), "/dashboard")
	page := b.get("/equipment").Body.String()
	if !strings.Contains(page, other.device.Serial) || strings.Contains(page, a.device.Serial) {
		t.Errorf("after the switch the equipment page is not the second account's:\n%s", page)
	}
	for _, id := range []string{strconv.FormatInt(foreign.ID, 10), "999999", "x"} {
		wantPage(t, b.post("/accounts/"+id+"/current", nil), http.StatusNotFound)
	}
	wantPage(t, b.get("/equipment"), http.StatusOK, other.device.Serial)
}

// TestRemovedDelegateIsOutAtOnce: the roles are read on every request, so
// a delegate removed while signed in loses the account on the next one.
func TestRemovedDelegateIsOutAtOnce(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	d := e.newUser("delegate@example.com", "Delegate")
	e.addRole(d, a.ID, domain.RoleDelegate)
	b := e.browser()
	b.login(d.Email)
	wantPage(t, b.get("/equipment"), http.StatusOK, a.device.Serial)
	if err := e.st.RemoveMembership(context.Background(), d.ID, a.ID, store.ByUser(a.primary.ID)); err != nil {
		t.Fatal(err)
	}
	rec := b.get("/equipment")
	wantPage(t, rec, http.StatusForbidden)
	if strings.Contains(rec.Body.String(), a.device.Serial) || strings.Contains(b.get("/dashboard").Body.String(), "Company one") {
		t.Error("a removed delegate still sees the account")
	}
}

// victimParams names, for each path parameter a route may have, the
// victim's object the walker puts in it. A route with a parameter not
// listed fails the walker: add the parameter here with an object of the
// victim account (see README.md).
func victimParams(v testAccount) map[string]string {
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	return map[string]string{
		"account":  id(v.ID),
		"location": id(v.location.ID),
		"device":   id(v.device.ID),
		"contract": id(v.contract.ID),
		"user":     id(v.primary.ID),
		// The walker invites someone to the victim's account first.
		"invitation": id(v.invitation.ID),
	}
}

// victimMarkers are strings of the victim's data no page may show anyone
// else.
func victimMarkers(v testAccount) []string {
	var out []string
	for _, m := range []string{v.Name, v.CustomerNumber, v.device.Serial, v.location.Street, v.contract.Number,
		v.primary.Email, v.primary.Name, v.primary.Phone, v.invitation.Email, v.location.Attention, v.location.Phone} {
		if m != "" { // "" is in every page
			out = append(out, m)
		}
	}
	return out
}

// victimSnapshot is what the walker checks no request changed: the
// victim's roles, locations, devices, contracts and primary user.
func victimSnapshot(t *testing.T, e *env, v testAccount) string {
	t.Helper()
	ctx := context.Background()
	var parts []any
	add := func(x any, err error) {
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, x)
	}
	add(e.st.Memberships(ctx, v.ID))
	add(e.st.Locations(ctx, v.ID))
	add(e.st.AccountDevices(ctx, v.ID))
	add(e.st.Contracts(ctx, v.ID))
	add(e.st.User(ctx, v.primary.ID))
	add(e.st.Account(ctx, v.ID))
	add(e.st.PendingInvitations(ctx, v.ID))
	add(e.st.AccountRequests(ctx, v.ID, 0))
	add(e.st.MeterReadsToEnter(ctx, v.ID, testNow)) // campaigns, reads typed in, automation requests
	b, err := json.Marshal(parts)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCrossAccountWalker walks every route of the route table — so a route
// added tomorrow is walked too — as a user of another account, as a
// delegate of the victim removed a minute ago (who still acts for a third
// account) and as an anonymous visitor. Path parameters hold the ids of
// the victim's objects, and forms carry them under the usual field names.
// No answer may hold the victim's data; a route with a parameter must
// answer 404, 403 or send to sign in; and nothing of the victim changes.
func TestCrossAccountWalker(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			// The attacker signs in afresh for every route: more sign-ins
			// than the default limits allow one address in their window.
			e := newEnvAt(t, be.url(t), func(o *Options) {
				o.Limits = DefaultLimits
				o.Limits.Login = RateLimit{Window: DefaultLimits.Login.Window, PerEmail: 10000, PerAddress: 10000}
			})
			victim := e.newAccount("victim", "H2X 1Y4")
			e.invite(&victim, "invited.victim@example.com")
			// The victim's device waits for its meter read (reads.go).
			victimReads := e.openCampaign(victim)
			// The victim's shipping contact and a request of its own, which
			// the shipping and equipment pages show.
			victim.location.LocationContact = store.LocationContact{Attention: "Attention Victim", Suite: "Suite Victim", Phone: "555-0100-victim"}
			if err := e.st.UpdateLocationContact(context.Background(), victim.ID, victim.location.ID, victim.location.LocationContact, store.BySystem("test")); err != nil {
				t.Fatal(err)
			}
			const victimLink = "VICTIMLINK1"
			if _, err := e.st.RequestSerialLink(context.Background(), store.SerialLink{AccountID: &victim.ID, UserID: &victim.primary.ID, Serial: victimLink}); err != nil {
				t.Fatal(err)
			}
			attacker := e.newAccount("attacker", "J3X 0E1")
			third := e.newAccount("third", "G1K 3J4")
			removed := e.newUser("removed.delegate@example.com", "Removed Delegate")
			e.addRole(removed, victim.ID, domain.RoleDelegate)
			e.addRole(removed, third.ID, domain.RoleDelegate)

			// The removed delegate signed in while still a delegate, acting
			// for the victim; then the primary removed them, a minute ago.
			rb := e.browser()
			rb.login(removed.Email)
			wantRedirect(t, rb.post("/accounts/"+strconv.FormatInt(victim.ID, 10)+"/current", nil), "/dashboard")
			wantPage(t, rb.get("/equipment"), http.StatusOK, victim.device.Serial)
			if err := e.st.RemoveMembership(context.Background(), removed.ID, victim.ID, store.ByUser(victim.primary.ID)); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Minute)
			removedSession := rb.cookies[sessionCookie]

			params := victimParams(victim)
			markers := victimMarkers(victim)
			// :request, a request of the victim (backoffice_test.go).
			var requestSubject string
			params["request"], requestSubject = victimRequest(t, e, victim)
			markers = append(markers, requestSubject)
			// :read, the victim's invoiced read (backoffice_reads.go).
			params["read"] = id64(victimReads.lastReadID)
			markers = append(markers, victimLink)
			before := victimSnapshot(t, e, victim)
			visitors := []struct {
				name  string
				start func() *browser
			}{
				{"attacker", func() *browser { b := e.browser(); b.login(attacker.primary.Email); return b }},
				{"removed delegate", func() *browser {
					b := e.browser()
					b.cookies[sessionCookie] = removedSession
					return b
				}},
				{"anonymous", e.browser},
			}
			walked := 0
			for _, r := range e.srv.pageRoutes() {
				if r.access == asset {
					continue
				}
				path, hasParams, ok := fillParams(r.path, params)
				if !ok {
					t.Errorf("%s %s has a path parameter the walker does not know: add it to victimParams", r.method, r.path)
					continue
				}
				form := url.Values{}
				for k, v := range params {
					form.Set(k, v)
					form.Set(k+"_id", v)
				}
				form.Set("id", params["device"])
				for _, v := range visitors {
					b := v.start()
					var rec *httptest.ResponseRecorder
					switch r.method {
					case http.MethodGet, http.MethodHead:
						rec = b.get(path)
					default:
						rec = b.post(path, form)
					}
					walked++
					where := v.name + " " + r.method + " " + path
					body := rec.Body.String() + " " + rec.Header().Get("Location")
					for _, m := range markers {
						if strings.Contains(body, m) {
							t.Errorf("%s: the answer shows the victim's %q:\n%s", where, m, body)
						}
					}
					if hasParams {
						loc := rec.Header().Get("Location")
						refused := rec.Code == http.StatusNotFound || rec.Code == http.StatusForbidden ||
							(rec.Code == http.StatusSeeOther && strings.HasPrefix(loc, "/login"))
						if !refused {
							t.Errorf("%s = %d %s: want 404, 403 or a redirect to sign in", where, rec.Code, loc)
						}
					}
				}
			}
			if walked < 3*20 {
				t.Errorf("walked only %d requests: is the route table read?", walked)
			}
			if after := victimSnapshot(t, e, victim); after != before {
				t.Errorf("the walk changed the victim's data:\nbefore %s\nafter  %s", before, after)
			}
			// And the removed delegate's session no longer acts for the victim.
			sess, _, _, err := e.st.SessionUser(context.Background(), auth.HashToken(removedSession.Value))
			if err == nil && sess.AccountID != nil && *sess.AccountID == victim.ID {
				t.Error("the removed delegate's session still acts for the victim")
			}
		})
	}
}

// fillParams puts the victim's ids into a route's path parameters; ok is
// false for a parameter params does not name.
func fillParams(path string, params map[string]string) (filled string, hasParams, ok bool) {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		name, isParam := strings.CutPrefix(s, ":")
		if !isParam {
			continue
		}
		hasParams = true
		v, known := params[name]
		if !known {
			return "", true, false
		}
		segs[i] = v
	}
	return strings.Join(segs, "/"), hasParams, true
}
