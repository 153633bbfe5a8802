package main

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/meterline/meterline/portal/internal/auth"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema/schematest"
)

func TestAdminDemoSQLite(t *testing.T) { testAdminDemo(t, schematest.SQLiteURL(t)) }

func TestAdminDemoPostgres(t *testing.T) {
	db := schematest.PostgresURL(t)
	storetest.Seed(t, db) // migrated as the collector does
	testAdminDemo(t, db)
}

// testAdminDemo runs `admin demo` twice: the demo data the first time,
// nothing more the second.
func testAdminDemo(t *testing.T, url string) {
	ctx := context.Background()
	demo := func() string {
		t.Helper()
		var out, errb bytes.Buffer
		if err := run(ctx, []string{"admin", "-database", url, "demo", "-count", "12", "-agent", "demo-agent"}, &out, &errb); err != nil {
			t.Fatalf("admin demo: %v\n%s", err, errb.String())
		}
		return out.String()
	}
	first := demo()
	st, err := store.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	before := demoSnapshot(t, st)
	serials := demoSerials(12)

	main, err := st.AccountByNumber(ctx, "DEMO-1001")
	if err != nil {
		t.Fatal(err)
	}
	other, err := st.AccountByNumber(ctx, "DEMO-1002")
	if err != nil {
		t.Fatal(err)
	}
	if main.Language != domain.LanguageFrench || other.Language != domain.LanguageEnglish {
		t.Errorf("languages %s, %s; want fr, en", main.Language, other.Language)
	}
	for _, a := range []store.Account{main, other} {
		ms, err := st.Memberships(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		roles := map[domain.Role]int{}
		for _, m := range ms {
			roles[m.Role]++
		}
		if roles[domain.RolePrimary] != 1 || roles[domain.RoleDelegate] != 1 {
			t.Errorf("account %s: roles %v, want a primary and a delegate", a.CustomerNumber, roles)
		}
		if locs, _ := st.Locations(ctx, a.ID); len(locs) == 0 {
			t.Errorf("account %s has no location", a.CustomerNumber)
		}
	}
	devs, err := st.AccountDevices(ctx, main.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != len(serials)-1 {
		t.Errorf("DEMO-1001 has %d devices, want %d (the fleet but one)", len(devs), len(serials)-1)
	}
	for _, d := range devs {
		if d.LocationID == nil || d.State != domain.ContractActive {
			t.Errorf("device %s: location %v, state %s", d.Serial, d.LocationID, d.State)
		}
	}
	if _, err := st.AccountDeviceBySerial(ctx, main.ID, serials[len(serials)-1]); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("the last serial, left unconfirmed: %v, want ENOTFOUND", err)
	}
	odevs, err := st.AccountDevices(ctx, other.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(odevs) != 1 || odevs[0].Serial != serials[0] {
		t.Errorf("DEMO-1002 devices %+v, want the conflict serial %s", odevs, serials[0])
	}
	if acc, err := st.AgentAccount(ctx, "demo-agent"); err != nil || acc == nil || *acc != main.ID {
		t.Errorf("demo-agent's account: %v, %v; want %d", acc, err, main.ID)
	}

	second := demo()
	if after := demoSnapshot(t, st); !reflect.DeepEqual(before, after) {
		t.Errorf("the second run changed the data:\nbefore %v\nafter  %v", before, after)
	}
	t.Logf("first: %s second: %s", first, second)
	if !bytes.Contains([]byte(second), []byte(" 0 device(s) created")) {
		t.Errorf("second run: %q", second)
	}

	// The demo's users sign in with the password printed last.
	m := regexp.MustCompile(`demo: sign in as (.*) with password (\S+)`).FindStringSubmatch(second)
	if m == nil || !strings.Contains(m[1], "camille.gagnon@laurentienne.example") || !strings.Contains(m[1], "backoffice@meterline.example (back office)") {
		t.Fatalf("no sign-in line in %q", second)
	}
	h, _ := auth.NewHasher(auth.DefaultParams)
	for _, email := range []string{"camille.gagnon@laurentienne.example", "alex.morgan@northwind.example", "backoffice@meterline.example"} {
		u, err := st.UserByEmail(ctx, email)
		if err != nil || u.PasswordHash == nil {
			t.Fatalf("%s: %+v, %v", email, u, err)
		}
		if ok, _, err := h.Verify(*u.PasswordHash, m[2]); !ok || err != nil {
			t.Errorf("%s does not sign in with the printed password: %v", email, err)
		}
	}
	if acc, _ := st.MemberAccounts(ctx, mustUser(t, st, "backoffice@meterline.example").ID); len(acc) != 1 || acc[0].Role != domain.RoleBackOffice {
		t.Errorf("the back-office user's roles: %+v", acc)
	}
}

func mustUser(t *testing.T, st *store.Store, email string) store.User {
	t.Helper()
	u, err := st.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// demoSnapshot is what the demo data holds, to compare two runs.
func demoSnapshot(t *testing.T, st *store.Store) string {
	t.Helper()
	ctx := context.Background()
	accs, err := st.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, a := range accs {
		locs, err1 := st.Locations(ctx, a.ID)
		cs, err2 := st.Contracts(ctx, a.ID)
		ms, err3 := st.Memberships(ctx, a.ID)
		ds, err4 := st.AccountDevices(ctx, a.ID)
		ch, err5 := st.StateChanges(ctx, store.EntityAccount, a.ID)
		for _, err := range []error{err1, err2, err3, err4, err5} {
			if err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(&b, "%+v\n%+v\n%+v\n%+v\n%d changes\n", a, locs, cs, ms, len(ch))
		for _, d := range ds {
			loc := d.LocationID
			d.LocationID = nil
			fmt.Fprintf(&b, "%+v at %d\n", d, *loc)
			dc, err := st.StateChanges(ctx, store.EntityDevice, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "device %d: %d changes\n", d.ID, len(dc))
		}
	}
	return b.String()
}
