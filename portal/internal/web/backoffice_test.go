package web

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/schema/schematest"
	"github.com/meterline/meterline/shared/wire"
)

// boBench is the back office's test bench: two customer accounts and a
// back-office user, signed in. Agent u1, registered to account one,
// reported S1 and S2 (unconfirmed) and a printer with no serial; account
// two has S2 under contract too: a serial conflict.
type boBench struct {
	e        *env
	staff    store.User
	one, two testAccount
	// s2Two is account two's device of S2.
	s2Two store.ContractedDevice
	// unconfirmed are account one's unconfirmed devices by key.
	unconfirmed map[string]int64
	b           *browser
}

func newBOBench(t *testing.T, dbURL string) *boBench {
	t.Helper()
	ctx := context.Background()
	e := newEnvAt(t, dbURL)
	f := &boBench{e: e, one: e.newAccount("one", "H2X 1Y4"), two: e.newAccount("two", "J3X 0E1"), unconfirmed: map[string]int64{}}
	supplier := e.newAccount("supplier", "H3B 2Y5")
	f.staff = e.newUser("staff@supplier.example", "Staff Member")
	e.addRole(f.staff, supplier.ID, domain.RoleBackOffice)

	read := []storetest.Read{{At: testNow.Add(-5 * time.Minute), Counters: []wire.Counter{{Kind: domain.CounterTotal, Value: 12345}}}}
	storetest.Seed(t, dbURL,
		storetest.Device{Serial: "S1", Vendor: "HP", Model: "M404", Agent: "u1", Reads: read},
		storetest.Device{Serial: "S2", Vendor: "HP", Model: "M404", Agent: "u1", Reads: read},
		storetest.Device{MAC: "AA:BB:CC:00:11:22", Address: "127.0.0.9", Agent: "u1", Reads: read})
	if err := e.st.RegisterAgent(ctx, "u1", f.one.ID, store.BySystem("test")); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.s2Two, err = e.st.PutConflictingDeviceUnderContract(ctx, store.ContractedDevice{Serial: "S2", Model: "M404", ContractID: f.two.contract.ID}, store.BySystem("test")); err != nil {
		t.Fatal(err)
	}
	list, err := e.st.UnconfirmedDevices(ctx, f.one.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		f.unconfirmed[d.Key] = d.ID
	}
	if len(f.unconfirmed) != 3 {
		t.Fatalf("unconfirmed devices = %v, want S1, S2 and the MAC", f.unconfirmed)
	}
	f.b = e.browser()
	f.b.login(f.staff.Email)
	return f
}

// state is a device's state as the store has it now.
func (f *boBench) state(t *testing.T, id int64) string {
	t.Helper()
	var state sql.NullString
	q := schema.Rebind(f.e.st.Dialect(), `SELECT state FROM devices WHERE id = ?`)
	if err := f.e.st.DB().QueryRowContext(context.Background(), q, id).Scan(&state); err != nil {
		t.Fatal(err)
	}
	return state.String
}

// changeBy returns the user who made a recorded change of an entity,
// "field old>new" (0 for the system), and fails the test when there is
// no such change.
func (f *boBench) changeBy(t *testing.T, entity string, id int64, change string) int64 {
	t.Helper()
	changes, err := f.e.st.StateChanges(context.Background(), entity, id)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, c := range changes {
		old, new := "-", "-"
		if c.Old != nil {
			old = *c.Old
		}
		if c.New != nil {
			new = *c.New
		}
		got := fmt.Sprintf("%s %s>%s", c.Field, old, new)
		if got != change {
			seen = append(seen, got)
			continue
		}
		if c.ByUserID == nil {
			return 0
		}
		return *c.ByUserID
	}
	t.Fatalf("%s %d has no change %q: %q", entity, id, change, seen)
	return 0
}

func id64(n int64) string { return fmt.Sprint(n) }

// TestBackOfficeHome: the home counts the work waiting — devices to
// review, serials in conflict, open requests of each kind — and links to
// each list; the back office has its menu, customers have neither.
func TestBackOfficeHome(t *testing.T) {
	f := newBOBench(t, schematest.SQLiteURL(t))
	ctx := context.Background()
	e := f.e
	if _, err := e.st.RequestRemoval(ctx, f.one.ID, f.one.primary.ID, f.one.device.ID, "broken"); err != nil {
		t.Fatal(err)
	}
	for _, serial := range []string{"ZZ1", "ZZ2"} {
		if _, err := e.st.RequestSerialLink(ctx, store.SerialLink{Serial: serial, PostalCode: "H0H 0H0", Name: "New", Email: "new@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	page := f.b.get("/backoffice?lang=en")
	wantPage(t, page, http.StatusOK,
		`id="count-unconfirmed">3<`, `id="count-conflicts">1<`,
		`id="count-serial_link">2<`, `id="count-removal">1<`, `id="count-grouping">0<`, `id="count-contact">0<`,
		`href="/backoffice/devices/unconfirmed"`, `href="/backoffice/devices/conflicts"`, `href="/backoffice/requests?kind=removal"`,
		`<nav class="bo-nav"`, `<a href="/backoffice" aria-current="page">Work waiting</a>`,
		`<a href="/backoffice" aria-current="page">Back office</a>`)
	wantPage(t, f.b.get("/backoffice?lang=fr"), http.StatusOK, "Travail en attente", "Conflits de numéros de série", "Liaisons de numéros de série")
	// The menu marks the section of a page below the home.
	wantPage(t, f.b.get(fmt.Sprintf("/backoffice/devices/%d?lang=en", f.unconfirmed["sn:S1"])), http.StatusOK,
		`<a href="/backoffice/devices/unconfirmed" aria-current="page">Devices to review</a>`)

	cb := e.browser()
	cb.login(f.one.primary.Email)
	if dash := cb.get("/dashboard").Body.String(); strings.Contains(dash, `href="/backoffice"`) || strings.Contains(dash, "bo-nav") {
		t.Error("a customer's pages link to the back office")
	}
	if dash := f.b.get("/dashboard").Body.String(); !strings.Contains(dash, `href="/backoffice"`) || strings.Contains(dash, "bo-nav") {
		t.Error("the back office's header link is missing, or its menu shows outside it")
	}
}

// TestBackOfficeAccounts: accounts found by customer number (prefix) or
// name (part, any case), fifty a page; an account's page shows its users
// and roles, locations, contracts, devices and states, devices to
// review, agents and requests. Bad and unknown ids are 404.
func TestBackOfficeAccounts(t *testing.T) {
	f := newBOBench(t, schematest.SQLiteURL(t))
	ctx := context.Background()
	for i := range 55 {
		if _, err := f.e.st.CreateAccount(ctx, store.Account{CustomerNumber: fmt.Sprintf("BULK-%03d", i), Name: fmt.Sprintf("Bulk Printing %d", i), Language: domain.LanguageEnglish}); err != nil {
			t.Fatal(err)
		}
	}
	b := f.b

	page := b.get("/backoffice/accounts?lang=en").Body.String()
	for _, want := range []string{"58 accounts", "1 to 50 shown", `href="/backoffice/accounts?page=2"`, ">BULK-000<"} {
		if !strings.Contains(page, want) {
			t.Errorf("the first page lacks %q", want)
		}
	}
	wantPage(t, b.get("/backoffice/accounts?page=2&lang=en"), http.StatusOK, "51 to 58 shown", `href="/backoffice/accounts?page=1"`, ">CN-two<")
	if p := b.get("/backoffice/accounts?page=2").Body.String(); strings.Contains(p, ">BULK-000<") || strings.Contains(p, "page=3") {
		t.Error("page 2 repeats page 1 or links a page 3")
	}

	for _, tc := range []struct {
		q          string
		want, miss []string
	}{
		{"CN-o", []string{">CN-one<"}, []string{">CN-two<", ">BULK-001<"}},
		{"company TWO", []string{">CN-two<"}, []string{">CN-one<"}},
		{"bulk printing 4", []string{">BULK-004<"}, []string{">BULK-005<"}},
		{"nothing like it", []string{"No account matches."}, []string{"<table"}},
		{"50%_", []string{"No account matches."}, nil},
	} {
		p := b.get("/backoffice/accounts?lang=en&q=" + url.QueryEscape(tc.q)).Body.String()
		for _, w := range tc.want {
			if !strings.Contains(p, w) {
				t.Errorf("search %q: the page lacks %q", tc.q, w)
			}
		}
		for _, m := range tc.miss {
			if strings.Contains(p, m) {
				t.Errorf("search %q: the page shows %q", tc.q, m)
			}
		}
	}

	// The page of account one: a delegate too, a removal asked.
	delegate := f.e.newUser("delegate.one@example.com", "Delegate One")
	f.e.addRole(delegate, f.one.ID, domain.RoleDelegate)
	if _, err := f.e.st.RequestRemoval(ctx, f.one.ID, f.one.primary.ID, f.one.device.ID, "moved out"); err != nil {
		t.Fatal(err)
	}
	acc := b.get("/backoffice/accounts/" + id64(f.one.ID) + "?lang=en")
	wantPage(t, acc, http.StatusOK,
		"Company one", "CN-one",
		f.one.primary.Email, ">primary<", "delegate.one@example.com", ">delegate<",
		f.one.location.Street, f.one.location.PostalCode,
		f.one.contract.Number, "quarterly",
		f.one.device.Serial, `<span class="badge warn">Pending removal</span>`,
		`id="unconfirmed-`+id64(f.unconfirmed["sn:S2"])+`"`, `<span class="badge error">Conflict</span>`,
		`href="/backoffice/devices/`+id64(f.unconfirmed["sn:S1"])+`"`,
		">u1<", "Removals")
	if strings.Contains(acc.Body.String(), f.two.device.Serial) || strings.Contains(acc.Body.String(), f.two.primary.Email) {
		t.Error("account one's page shows account two's data")
	}
	wantPage(t, b.get("/backoffice/accounts/"+id64(f.one.ID)+"?lang=fr"), http.StatusOK, "Utilisateurs et rôles", "En attente de retrait", "principal")

	for _, bad := range []string{"abc", "0", "-1", "999999", "1.5"} {
		wantPage(t, b.get("/backoffice/accounts/"+bad), http.StatusNotFound)
	}
}

// TestBackOfficeReview: the devices to review, confirmed under the
// account's contract or rejected, each change recorded with the
// back-office user; another account's contract or location is refused,
// as are a device reviewed already, bad ids and a form without its CSRF
// token. Both databases.
func TestBackOfficeReview(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := newBOBench(t, be.url(t))
			b := f.b
			s1, s2, mac := f.unconfirmed["sn:S1"], f.unconfirmed["sn:S2"], f.unconfirmed["mac:aa:bb:cc:00:11:22"]

			// The list: every unconfirmed device, S2 flagged; by account.
			list := b.get("/backoffice/devices/unconfirmed?lang=en")
			wantPage(t, list, http.StatusOK, "3 devices waiting", ">CN-one<")
			page := list.Body.String()
			if r := row(t, page, s2); !strings.Contains(r, "Conflict") || !strings.Contains(r, ">S2<") || !strings.Contains(r, "5 min ago") {
				t.Errorf("S2's row:\n%s", r)
			}
			if r := row(t, page, s1); strings.Contains(r, "Conflict") {
				t.Errorf("S1 is flagged:\n%s", r)
			}
			if r := row(t, page, mac); !strings.Contains(r, "mac:aa:bb:cc:00:11:22") || !strings.Contains(r, "127.0.0.9") {
				t.Errorf("the MAC device's row:\n%s", r)
			}
			wantPage(t, b.get("/backoffice/devices/unconfirmed?lang=en&account=CN-two"), http.StatusOK, "No device is waiting for review.")
			wantPage(t, b.get("/backoffice/devices/unconfirmed?account=NOPE"), http.StatusNotFound)

			// S2's page: account two's claim, the account's contract and
			// location to choose.
			wantPage(t, b.get("/backoffice/devices/"+id64(s2)+"?lang=en"), http.StatusOK,
				"Other accounts have this serial number", `id="claim-`+id64(f.s2Two.ID)+`"`, ">CN-two<", "Active",
				`<option value="`+id64(f.one.contract.ID)+`" selected>`+f.one.contract.Number+`</option>`,
				`<option value="`+id64(f.one.location.ID)+`">`, `action="/backoffice/devices/`+id64(s2)+`/confirm"`, `name="csrf"`)
			if p := b.get("/backoffice/devices/" + id64(s2)).Body.String(); strings.Contains(p, f.two.contract.Number) || strings.Contains(p, f.two.location.Street) {
				t.Error("S2's page offers account two's contract or location")
			}

			// Refused confirmations change nothing.
			for _, tc := range []struct {
				name string
				form url.Values
				want string
			}{
				{"another account's contract", url.Values{"contract_id": {id64(f.two.contract.ID)}}, "Choose one of this account"},
				{"another account's location", url.Values{"contract_id": {id64(f.one.contract.ID)}, "location_id": {id64(f.two.location.ID)}}, "Choose one of this account"},
				{"no contract", url.Values{"product_code": {"X"}}, "Choose one of this account"},
				{"a contract that is not a number", url.Values{"contract_id": {"one"}}, "Choose one of this account"},
				{"no such contract", url.Values{"contract_id": {"999999"}}, "Choose one of this account"},
			} {
				form := tc.form
				form.Set("lang", "en")
				rec := b.post("/backoffice/devices/"+id64(s1)+"/confirm?lang=en", form)
				if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.want) {
					t.Errorf("%s: %d, want 400 saying %q\n%s", tc.name, rec.Code, tc.want, rec.Body)
				}
				if got := f.state(t, s1); got != "unconfirmed" {
					t.Errorf("%s: S1 is %s", tc.name, got)
				}
			}
			wantPage(t, b.post("/backoffice/devices/"+id64(mac)+"/confirm?lang=en", url.Values{"contract_id": {id64(f.one.contract.ID)}}),
				http.StatusBadRequest, "This device has no serial number")

			// No CSRF token: refused before anything.
			wantPage(t, b.postRaw("/backoffice/devices/"+id64(s1)+"/confirm", url.Values{"contract_id": {id64(f.one.contract.ID)}}), http.StatusForbidden)
			wantPage(t, b.postRaw("/backoffice/devices/"+id64(s1)+"/reject", nil), http.StatusForbidden)
			if got := f.state(t, s1); got != "unconfirmed" {
				t.Errorf("without CSRF token S1 became %s", got)
			}

			// Confirm S1 under account one's contract at its location.
			wantRedirect(t, b.post("/backoffice/devices/"+id64(s1)+"/confirm", url.Values{
				"contract_id": {id64(f.one.contract.ID)}, "location_id": {id64(f.one.location.ID)}, "product_code": {"CF259A"}}),
				"/backoffice/devices/unconfirmed?done=bo_device_confirmed")
			d, err := f.e.st.ContractedDevice(context.Background(), s1)
			if err != nil || d.State != domain.ContractActive || d.ContractID != f.one.contract.ID || d.ProductCode != "CF259A" || d.LocationID == nil || *d.LocationID != f.one.location.ID {
				t.Errorf("S1 after confirmation = %+v, %v", d, err)
			}
			if by := f.changeBy(t, store.EntityDevice, s1, "state unconfirmed>active"); by != f.staff.ID {
				t.Errorf("S1 confirmed by user %d, want the back-office user %d", by, f.staff.ID)
			}
			wantPage(t, b.get("/backoffice/devices/unconfirmed?done=bo_device_confirmed&lang=en"), http.StatusOK, "The device is confirmed", "2 devices waiting")
			wantPage(t, b.post("/backoffice/devices/"+id64(s1)+"/confirm?lang=en", url.Values{"contract_id": {id64(f.one.contract.ID)}}),
				http.StatusConflict, "no longer waiting for review")
			wantPage(t, b.get("/backoffice/devices/"+id64(s1)), http.StatusNotFound)

			// The conflict, settled by rejecting account one's S2 from the
			// conflicts page: back to it, S2 kept, the conflict gone.
			conflicts := b.get("/backoffice/devices/conflicts?lang=en")
			wantPage(t, conflicts, http.StatusOK, "1 serial number", `id="serial-S2"`, `id="claim-`+id64(s2)+`"`, `id="claim-`+id64(f.s2Two.ID)+`"`,
				`action="/backoffice/devices/`+id64(s2)+`/reject"`, `name="back" value="conflicts"`, "under contract")
			if strings.Contains(conflicts.Body.String(), `action="/backoffice/devices/`+id64(f.s2Two.ID)+`/reject"`) {
				t.Error("a device under contract is offered for rejection")
			}
			wantRedirect(t, b.post("/backoffice/devices/"+id64(s2)+"/reject", url.Values{"back": {"conflicts"}}), "/backoffice/devices/conflicts?done=bo_device_rejected")
			if got := f.state(t, s2); got != "rejected" {
				t.Errorf("S2 is %s, want rejected", got)
			}
			if by := f.changeBy(t, store.EntityDevice, s2, "state unconfirmed>rejected"); by != f.staff.ID {
				t.Errorf("S2 rejected by user %d, want the back-office user %d", by, f.staff.ID)
			}
			wantPage(t, b.get("/backoffice/devices/conflicts?lang=en&done=bo_device_rejected"), http.StatusOK, "The device is rejected.", "No serial number is claimed by two accounts.")
			// Rejecting again changes nothing; an active device cannot be.
			wantRedirect(t, b.post("/backoffice/devices/"+id64(s2)+"/reject", nil), "/backoffice/devices/unconfirmed?done=bo_device_rejected")
			wantPage(t, b.post("/backoffice/devices/"+id64(f.two.device.ID)+"/reject?lang=en", nil), http.StatusConflict, "no longer waiting for review")
			if got := f.state(t, f.two.device.ID); got != "active" {
				t.Errorf("account two's device is %s", got)
			}

			// Bad and unknown ids.
			for _, bad := range []string{"abc", "0", "999999"} {
				wantPage(t, b.get("/backoffice/devices/"+bad), http.StatusNotFound)
				wantPage(t, b.post("/backoffice/devices/"+bad+"/confirm", url.Values{"contract_id": {id64(f.one.contract.ID)}}), http.StatusNotFound)
				wantPage(t, b.post("/backoffice/devices/"+bad+"/reject", nil), http.StatusNotFound)
			}
		})
	}
}

// TestBackOfficeAllDevices: the fleet with its reads, every account's,
// inside the back office's menu.
func TestBackOfficeAllDevices(t *testing.T) {
	f := newBOBench(t, schematest.SQLiteURL(t))
	wantPage(t, f.b.get("/backoffice/devices?lang=en"), http.StatusOK, f.one.device.Serial, f.two.device.Serial,
		`<a href="/backoffice/devices" aria-current="page">All devices</a>`)
}

// TestBackOfficeRequests: the open requests of each kind, a request's
// page, resolved done or rejected with a note by the back-office user;
// a removal done removes its device, rejected puts it back. Resolving
// twice, a bad outcome, bad ids and a missing CSRF token are refused.
// Both databases.
func TestBackOfficeRequests(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := newBOBench(t, be.url(t))
			ctx, e, b := context.Background(), f.e, f.b
			removal, err := e.st.RequestRemoval(ctx, f.one.ID, f.one.primary.ID, f.one.device.ID, "We moved out")
			if err != nil {
				t.Fatal(err)
			}
			removalTwo, err := e.st.RequestRemoval(ctx, f.two.ID, f.two.primary.ID, f.two.device.ID, "")
			if err != nil {
				t.Fatal(err)
			}
			grouping, err := e.st.RequestGrouping(ctx, f.two.ID, f.two.primary.ID, []int64{f.two.device.ID, f.s2Two.ID}, "Same floor")
			if err != nil {
				t.Fatal(err)
			}
			link, err := e.st.RequestSerialLink(ctx, store.SerialLink{Serial: "zz 9", PostalCode: "h0h0h0", Name: "Newcomer Person", Email: "newcomer@example.com", Phone: "514-555-0199", Note: "Bought it used"})
			if err != nil {
				t.Fatal(err)
			}
			contact, err := e.st.SendContactMessage(ctx, store.ContactMessage{AccountID: f.one.ID, UserID: f.one.primary.ID, Subject: "Toner question", Body: "Line one\nLine two <b>"}, "backoffice@supplier.example")
			if err != nil {
				t.Fatal(err)
			}

			// Lists: serial links by default; each kind its own.
			wantPage(t, b.get("/backoffice/requests?lang=en"), http.StatusOK, "1 open request", `id="request-`+id64(link.ID)+`"`,
				"registration", "newcomer@example.com", "ZZ 9", `href="/backoffice/requests?kind=removal"`)
			rem := b.get("/backoffice/requests?kind=removal&lang=en")
			wantPage(t, rem, http.StatusOK, "2 open requests", `id="request-`+id64(removal.ID)+`"`, `id="request-`+id64(removalTwo.ID)+`"`,
				f.one.device.Serial, `href="/backoffice/accounts/`+id64(f.one.ID)+`"`, f.one.primary.Email)
			wantPage(t, b.get("/backoffice/requests?kind=grouping&lang=en"), http.StatusOK, `id="request-`+id64(grouping.ID)+`"`, "S2, "+f.two.device.Serial)
			wantPage(t, b.get("/backoffice/requests?kind=contact&lang=fr"), http.StatusOK, "Toner question", "1 demande ouverte")
			wantPage(t, b.get("/backoffice/requests?kind=nope"), http.StatusNotFound)

			// Pages.
			wantPage(t, b.get("/backoffice/requests/"+id64(link.ID)+"?lang=en"), http.StatusOK, "Request #"+id64(link.ID), "Serial links",
				"Newcomer Person", "newcomer@example.com", "514-555-0199", "ZZ 9", "H0H0H0", "Bought it used", `name="outcome" value="done"`, `name="csrf"`)
			wantPage(t, b.get("/backoffice/requests/"+id64(contact.ID)+"?lang=en"), http.StatusOK, "Toner question", "Line one\nLine two &lt;b&gt;", f.one.primary.Email)
			wantPage(t, b.get("/backoffice/requests/"+id64(grouping.ID)+"?lang=fr"), http.StatusOK, "Demande nº "+id64(grouping.ID), "Same floor", f.two.device.Serial)

			// Refused: a bad outcome, no CSRF token.
			wantPage(t, b.post("/backoffice/requests/"+id64(removal.ID)+"/resolve?lang=en", url.Values{"outcome": {"maybe"}, "note": {"hmm"}}),
				http.StatusBadRequest, "Choose done or rejected", ">hmm</textarea>")
			wantPage(t, b.post("/backoffice/requests/"+id64(removal.ID)+"/resolve?lang=en", url.Values{"outcome": {"done"}, "note": {strings.Repeat("x", 2001)}}),
				http.StatusBadRequest, "Choose done or rejected")
			wantPage(t, b.postRaw("/backoffice/requests/"+id64(removal.ID)+"/resolve", url.Values{"outcome": {"done"}}), http.StatusForbidden)
			if r, err := e.st.BackOfficeRequest(ctx, removal.ID); err != nil || !r.Open() {
				t.Fatalf("the removal after refused forms: %+v, %v", r, err)
			}

			// A removal done removes the device, by the back-office user.
			wantRedirect(t, b.post("/backoffice/requests/"+id64(removal.ID)+"/resolve", url.Values{"outcome": {"done"}, "note": {"Picked up on Monday"}}),
				"/backoffice/requests?done=bo_request_resolved&kind=removal")
			if got := f.state(t, f.one.device.ID); got != "removed" {
				t.Errorf("the device of a removal done is %s", got)
			}
			if by := f.changeBy(t, store.EntityDevice, f.one.device.ID, "state pending_removal>removed"); by != f.staff.ID {
				t.Errorf("the device removed by user %d, want the back-office user %d", by, f.staff.ID)
			}
			r, err := e.st.BackOfficeRequest(ctx, removal.ID)
			if err != nil || r.Open() || r.Outcome != store.OutcomeDone || r.ResolvedByUserID == nil || *r.ResolvedByUserID != f.staff.ID || r.Note != "Picked up on Monday" {
				t.Errorf("resolved removal = %+v, %v", r, err)
			}
			wantPage(t, b.get("/backoffice/requests?kind=removal&done=bo_request_resolved&lang=en"), http.StatusOK, "The request is resolved.", "1 open request")
			done := b.get("/backoffice/requests/" + id64(removal.ID) + "?lang=en")
			wantPage(t, done, http.StatusOK, "Resolution", `<span class="badge ok">Done</span>`, "Staff Member &lt;staff@supplier.example&gt;", "Picked up on Monday")
			if strings.Contains(done.Body.String(), `action="/backoffice/requests/`+id64(removal.ID)+`/resolve"`) {
				t.Error("a resolved request still has its resolve form")
			}
			// Twice: refused, nothing changes.
			wantPage(t, b.post("/backoffice/requests/"+id64(removal.ID)+"/resolve?lang=en", url.Values{"outcome": {"rejected"}}), http.StatusConflict, "already resolved")
			if got := f.state(t, f.one.device.ID); got != "removed" {
				t.Errorf("resolving twice made the device %s", got)
			}

			// A removal rejected puts the device back to active.
			wantRedirect(t, b.post("/backoffice/requests/"+id64(removalTwo.ID)+"/resolve", url.Values{"outcome": {"rejected"}}),
				"/backoffice/requests?done=bo_request_resolved&kind=removal")
			if got := f.state(t, f.two.device.ID); got != "active" {
				t.Errorf("the device of a removal rejected is %s", got)
			}
			if by := f.changeBy(t, store.EntityDevice, f.two.device.ID, "state pending_removal>active"); by != f.staff.ID {
				t.Errorf("the device put back by user %d, want the back-office user %d", by, f.staff.ID)
			}
			// The other kinds close and change nothing else.
			wantRedirect(t, b.post("/backoffice/requests/"+id64(contact.ID)+"/resolve", url.Values{"outcome": {"done"}, "note": {"Answered by phone"}}),
				"/backoffice/requests?done=bo_request_resolved&kind=contact")
			wantPage(t, b.get("/backoffice?lang=en"), http.StatusOK, `id="count-removal">0<`, `id="count-contact">0<`, `id="count-serial_link">1<`, `id="count-grouping">1<`)

			// Bad and unknown ids.
			for _, bad := range []string{"abc", "0", "999999"} {
				wantPage(t, b.get("/backoffice/requests/"+bad), http.StatusNotFound)
				wantPage(t, b.post("/backoffice/requests/"+bad+"/resolve", url.Values{"outcome": {"done"}}), http.StatusNotFound)
				wantPage(t, b.post("/backoffice/requests/"+bad+"/resolve", url.Values{"outcome": {"maybe"}}), http.StatusNotFound)
			}
		})
	}
}

// TestBackOfficeIsHiddenFromCustomers: every back-office route of the
// route table — so a route added tomorrow too — is 404 for a primary, a
// delegate and a user with no account, on GET and POST alike, and
// changes nothing; and every /backoffice route has the backOffice level.
func TestBackOfficeIsHiddenFromCustomers(t *testing.T) {
	f := newBOBench(t, schematest.SQLiteURL(t))
	ctx := context.Background()
	e := f.e
	req, err := e.st.RequestRemoval(ctx, f.one.ID, f.one.primary.ID, f.one.device.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	delegate := e.newUser("delegate.one@example.com", "Delegate One")
	e.addRole(delegate, f.one.ID, domain.RoleDelegate)
	loner := e.newUser("loner@example.com", "Loner")
	// :read, an invoiced read of the account (reads_test.go).
	reads := e.openCampaign(f.one)
	params := map[string]string{"account": id64(f.one.ID), "device": id64(f.unconfirmed["sn:S1"]), "request": id64(req.ID), "read": id64(reads.lastReadID)}
	form := url.Values{"contract_id": {id64(f.one.contract.ID)}, "outcome": {"done"}, "back": {"conflicts"}}

	walked := 0
	for _, who := range []store.User{f.one.primary, delegate, loner} {
		b := e.browser()
		b.login(who.Email)
		for _, r := range e.srv.pageRoutes() {
			if !strings.HasPrefix(r.path, "/backoffice") {
				continue
			}
			if r.access != backOffice {
				t.Errorf("%s %s is not a backOffice route", r.method, r.path)
			}
			path, _, ok := fillParams(r.path, params)
			if !ok {
				t.Fatalf("%s: a path parameter this test does not know", r.path)
			}
			var rec = b.get(path)
			if r.method == http.MethodPost {
				rec = b.post(path, form)
			}
			walked++
			if rec.Code != http.StatusNotFound {
				t.Errorf("%s %s %s = %d, want 404", who.Email, r.method, path, rec.Code)
			}
		}
	}
	if walked < 3*12 {
		t.Errorf("walked %d back-office requests: is the route table read?", walked)
	}
	if got := f.state(t, f.unconfirmed["sn:S1"]); got != "unconfirmed" {
		t.Errorf("S1 became %s", got)
	}
	if r, err := e.st.BackOfficeRequest(ctx, req.ID); err != nil || !r.Open() {
		t.Errorf("the request was resolved by a customer: %+v, %v", r, err)
	}
}

// victimRequest is a request of the victim account for the cross-account
// walker's :request parameter; its subject is one of the victim's markers.
func victimRequest(t *testing.T, e *env, v testAccount) (id, subject string) {
	t.Helper()
	subject = "Victim private question " + v.CustomerNumber
	r, err := e.st.SendContactMessage(context.Background(), store.ContactMessage{AccountID: v.ID, UserID: v.primary.ID, Subject: subject, Body: "private"}, "backoffice@supplier.example")
	if err != nil {
		t.Fatal(err)
	}
	return id64(r.ID), subject
}
