package store_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// importFile imports a file of testdata/import, its kind its name.
func importFile(t *testing.T, s *store.Store, kind string) store.ImportResult {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "import", kind+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := s.Import(context.Background(), kind, f, store.BySystem("import:test"))
	if err != nil {
		t.Fatalf("import %s: %v", kind, err)
	}
	return res
}

// importAll imports every file of testdata/import, in the order of the
// kinds, and returns what each import did.
func importAll(t *testing.T, s *store.Store) map[string]store.ImportResult {
	t.Helper()
	out := map[string]store.ImportResult{}
	for _, k := range store.ImportKinds() {
		out[k.Name] = importFile(t, s, k.Name)
	}
	return out
}

// snapshot is everything an import may change, read through the store.
type snapshot struct {
	Accounts  []store.Account
	Locations [][]store.Location
	Contracts [][]store.Contract
	Devices   [][]store.ContractedDevice
	Members   [][]store.Member
	Agents    []store.Agent
	Changes   [][]store.StateChange
}

func takeSnapshot(t *testing.T, s *store.Store) snapshot {
	t.Helper()
	ctx := context.Background()
	var snap snapshot
	var err error
	if snap.Accounts, err = s.Accounts(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range snap.Accounts {
		ls, err1 := s.Locations(ctx, a.ID)
		cs, err2 := s.Contracts(ctx, a.ID)
		ds, err3 := s.AccountDevices(ctx, a.ID)
		ms, err4 := s.Members(ctx, a.ID)
		ch, err5 := s.StateChanges(ctx, store.EntityAccount, a.ID)
		for _, err := range []error{err1, err2, err3, err4, err5} {
			if err != nil {
				t.Fatal(err)
			}
		}
		snap.Locations, snap.Contracts, snap.Devices = append(snap.Locations, ls), append(snap.Contracts, cs), append(snap.Devices, ds)
		snap.Members, snap.Changes = append(snap.Members, ms), append(snap.Changes, ch)
		for _, d := range ds {
			ch, err := s.StateChanges(ctx, store.EntityDevice, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			snap.Changes = append(snap.Changes, ch)
		}
	}
	if snap.Agents, err = s.Agents(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestImportEveryKind imports a good file of each kind, then again (all
// unchanged, not one state change more), and checks what was stored.
func TestImportEveryKind(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			got := importAll(t, s)
			want := map[string]store.ImportResult{
				"accounts": {Created: 2}, "locations": {Created: 3}, "contracts": {Created: 3},
				"devices": {Created: 3}, "users": {Created: 4}, "agents": {Created: 2},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("first import: %+v, want %+v", got, want)
			}
			before := takeSnapshot(t, s)
			again := importAll(t, s)
			for kind, res := range want {
				if again[kind] != (store.ImportResult{Unchanged: res.Created}) {
					t.Errorf("%s again: %+v, want %d unchanged", kind, again[kind], res.Created)
				}
			}
			if after := takeSnapshot(t, s); !reflect.DeepEqual(before, after) {
				t.Errorf("importing the same files again changed what is stored:\nbefore %+v\nafter  %+v", before, after)
			}

			c1, err := s.AccountByNumber(ctx, "C1")
			if err != nil || c1.Name != "ABC Co" || c1.Language != domain.LanguageFrench {
				t.Fatalf("account C1 = %+v, %v", c1, err)
			}
			ls, _ := s.Locations(ctx, c1.ID)
			if len(ls) != 2 || ls[0].Code != "HQ" || ls[0].Suite != "Bureau 210" || ls[1].Code != "WH" || ls[1].City != "Québec" {
				t.Errorf("locations of C1 = %+v", ls)
			}
			ks, _ := s.Contracts(ctx, c1.ID)
			if len(ks) != 2 || !ks[0].BillsBlack || !ks[0].BillsColour || ks[0].BillsTotal || ks[0].ExpectedMonthlyVolume != 5000 || ks[0].End != nil ||
				ks[1].BillingPeriod != domain.BillingMonthly || !ks[1].BillsTotal || ks[1].End == nil || !ks[1].End.Equal(date(2028, 12, 31)) || ks[1].ExpectedMonthlyVolume != 0 {
				t.Errorf("contracts of C1 = %+v", ks)
			}
			ds, _ := s.AccountDevices(ctx, c1.ID)
			if len(ds) != 2 || ds[0].Serial != "SN-1" || ds[0].LocationID == nil || *ds[0].LocationID != ls[0].ID ||
				ds[1].Replenishment != domain.ReplenishmentActive || *ds[1].LocationID != ls[1].ID {
				t.Errorf("devices of C1 = %+v", ds)
			}
			o, err := s.DeviceOpeningRead(ctx, ds[0].ID)
			if err != nil || o == nil || !o.At.Equal(date(2025, 1, 6)) || o.Black == nil || *o.Black != 15000 || o.Colour == nil || *o.Colour != 4200 || o.Total != nil {
				t.Errorf("SN-1's opening read = %+v, %v; want 2025-01-06 b=15000 c=4200", o, err)
			}
			if o, err := s.DeviceOpeningRead(ctx, ds[1].ID); err != nil || o != nil {
				t.Errorf("SN-2's opening read = %+v, %v; want none", o, err)
			}
			ms, _ := s.Members(ctx, c1.ID)
			if len(ms) != 2 || ms[0].Email != "jean@abc.example" || ms[0].Role != domain.RolePrimary || ms[0].PasswordHash != nil ||
				ms[1].Email != "marie@abc.example" || ms[1].Role != domain.RoleDelegate || ms[1].Language != domain.LanguageFrench {
				t.Errorf("members of C1 = %+v", ms)
			}
			jean, err := s.UserByEmail(ctx, "jean@abc.example")
			if err != nil {
				t.Fatal(err)
			}
			if roles, _ := s.UserMemberships(ctx, jean.ID); len(roles) != 2 {
				t.Errorf("jean's roles = %+v, want one on each account", roles)
			}
			if id, err := s.AgentAccount(ctx, "agent-abc"); err != nil || id == nil || *id != c1.ID {
				t.Errorf("agent-abc's account = %v, %v; want %d", id, err, c1.ID)
			}
			changes, _ := s.StateChanges(ctx, store.EntityAccount, c1.ID)
			if last := changes[len(changes)-1]; last.Field != store.FieldAgent || last.New == nil || *last.New != "agent-abc" || last.BySystem == nil || *last.BySystem != "import:test" {
				t.Errorf("the agent's registration recorded as %+v", last)
			}
			if gs, err := s.Agents(ctx, &c1.ID); err != nil || len(gs) != 1 || gs[0].ID != "agent-abc" || *gs[0].CustomerNumber != "C1" {
				t.Errorf("agents of C1 = %+v, %v", gs, err)
			}
		})
	}
}

// TestImportUpdates: the supplier's file is the source of truth; optional
// columns a file leaves out keep what is stored.
func TestImportUpdates(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			importAll(t, s)
			imp := func(kind, file string) store.ImportResult {
				t.Helper()
				res, err := s.Import(ctx, kind, strings.NewReader(file), store.BySystem("import:test"))
				if err != nil {
					t.Fatalf("import %s: %v", kind, err)
				}
				return res
			}
			if res := imp("accounts", "customer_number,name,language\nC1,ABC Co,fr\nC2,Other Company,fr\n"); res != (store.ImportResult{Updated: 1, Unchanged: 1}) {
				t.Errorf("accounts: %+v", res)
			}
			if a, _ := s.AccountByNumber(ctx, "C2"); a.Name != "Other Company" || a.Language != domain.LanguageFrench {
				t.Errorf("C2 after the update = %+v", a)
			}
			c1, _ := s.AccountByNumber(ctx, "C1")
			if res := imp("locations", "customer_number,code,attention\nC1,HQ,Marie Curie\nC1,WH,\n"); res != (store.ImportResult{Updated: 1, Unchanged: 1}) {
				t.Errorf("locations: %+v", res)
			}
			if ls, _ := s.Locations(ctx, c1.ID); ls[0].Attention != "Marie Curie" || ls[0].Suite != "Bureau 210" || ls[0].Street != "1 rue Principale" {
				t.Errorf("HQ after its attention changed = %+v", ls[0])
			}
			if res := imp("contracts", "number,customer_number,billing_period,bills,start\nK1,C1,monthly,black;colour,2026-01-01\n"); res != (store.ImportResult{Updated: 1}) {
				t.Errorf("contracts: %+v", res)
			}
			if ks, _ := s.Contracts(ctx, c1.ID); ks[0].BillingPeriod != domain.BillingMonthly || ks[0].ExpectedMonthlyVolume != 5000 {
				t.Errorf("K1 after the update = %+v", ks[0])
			}
			if res := imp("users", "email,customer_number,role,phone\nMARIE@abc.example,C1,back_office,514 555 0199\n"); res != (store.ImportResult{Updated: 1}) {
				t.Errorf("users: %+v", res)
			}
			ms, _ := s.Members(ctx, c1.ID)
			if ms[1].Role != domain.RoleBackOffice || ms[1].Phone != "514 555 0199" || ms[1].Name != "Marie Curie" {
				t.Errorf("marie after the update = %+v", ms[1])
			}
			changes, _ := s.StateChanges(ctx, store.EntityAccount, c1.ID)
			last := changes[len(changes)-1]
			if last.Old == nil || *last.Old != "delegate" || *last.New != "back_office" || last.BySystem == nil || *last.BySystem != "import:test" {
				t.Errorf("the role change recorded as %+v", last)
			}
			// An opening read given later is added to the device.
			if res := imp("devices", "serial,product_code,customer_number,contract_number,location_code,replenishment,opening_read_at,opening_total\n"+
				"SN-2,MX1,C1,K1,WH,active,2025-02-01T10:00:00+01:00,900\n"); res != (store.ImportResult{Updated: 1}) {
				t.Errorf("devices with an opening read: %+v", res)
			}
			ds, _ := s.AccountDevices(ctx, c1.ID)
			if o, err := s.DeviceOpeningRead(ctx, ds[1].ID); err != nil || o == nil || !o.At.Equal(date(2025, 2, 1).Add(9*time.Hour)) || o.Total == nil || *o.Total != 900 || o.Black != nil {
				t.Errorf("SN-2's opening read = %+v, %v; want 2025-02-01 09:00 UTC, total 900", o, err)
			}
			// A third delegate fits now that marie is back office.
			if res := imp("users", "email,customer_number,role\nx@abc.example,C1,delegate\ny@abc.example,C1,delegate\n"); res != (store.ImportResult{Created: 2}) {
				t.Errorf("two delegates: %+v", res)
			}
		})
	}
}

// TestImportRefusesBadFiles: a file with a bad line anywhere stores
// nothing, and every error is named with its line and field.
func TestImportRefusesBadFiles(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			importAll(t, s)
			c1, _ := s.AccountByNumber(ctx, "C1")
			ls, _ := s.Locations(ctx, c1.ID)
			hq, wh := strconv.FormatInt(ls[0].ID, 10), strconv.FormatInt(ls[1].ID, 10)
			for _, tc := range []struct {
				name, kind, file string
				want             []store.ImportError
			}{
				{"accounts", "accounts", "customer_number,name,language\nC1,ABC Co,fr\nC3,New Co,de\nC4,,en\nC2,Renamed,en\nC3,Again,fr\n", []store.ImportError{
					{Line: 3, Field: "language", Message: `"de" is not fr or en`},
					{Line: 4, Field: "name", Message: "required"},
					{Line: 6, Field: "customer_number", Message: "customer_number C3 is also on line 3"},
				}},
				{"locations", "locations", "customer_number,code,city\nC1,NEW,Laval\nC9,HQ,Laval\nC1,NEW,Longueuil\nC2,NEW,Ottawa\n", []store.ImportError{
					{Line: 3, Field: "customer_number", Message: "no account has customer number C9"},
					{Line: 4, Field: "code", Message: "code NEW, customer_number C1 are also on line 2"},
				}},
				{"contracts", "contracts", "number,customer_number,billing_period,bills,start,end\n" +
					"K4,C1,monthly,total,2026-01-01,\n" +
					"K3,C1,quarterly,black,2026-01-01,\n" +
					"K5,C1,quarterly,black;mono,2026-01-01,\n" +
					"K6,C1,yearly,black,2026-03-01,2026-02-01\n" +
					"K7,C1,quarterly,,01/02/2026,\n", []store.ImportError{
					{Line: 3, Field: "number", Message: "contract K3 belongs to account C2"},
					{Line: 4, Field: "bills", Message: `"mono" is not black, colour or total`},
					{Line: 5, Field: "billing_period", Message: `"yearly" is not quarterly or monthly`},
					{Line: 5, Field: "end", Message: "the contract ends before it starts"},
					{Line: 6, Field: "bills", Message: "required"},
					{Line: 6, Field: "start", Message: `"01/02/2026" is not a date YYYY-MM-DD`},
				}},
				{"devices", "devices", "serial,customer_number,contract_number,location_id,location_code\n" +
					"SN-7,C1,K1,,HQ\n" +
					"SN-8,C1,K1,,XX\n" +
					"SN-9,C1,K1," + wh + ",HQ\n" +
					"sn-7 ,C1,K2,,\n" +
					"SN-10,C1,K1," + hq + ",HQ\n" +
					"SN-3,C1,K1,,\n", []store.ImportError{
					{Line: 3, Field: "location_code", Message: "account C1 has no location of code XX"},
					{Line: 4, Field: "location_code", Message: "location code HQ is location " + hq + ", not location_id " + wh},
					{Line: 5, Field: "serial", Message: "serial sn-7 is also on line 2"},
					{Line: 7, Field: "serial", Message: "serial SN-3 is a device of another account"},
				}},
				{"opening reads", "devices", "serial,product_code,customer_number,contract_number,location_code,opening_read_at,opening_black,opening_colour\n" +
					"SN-1,MX1,C1,K1,HQ,2025-01-07,15000,4200\n" +
					"SN-11,,C1,K1,,,100,\n" +
					"SN-12,,C1,K1,,2025-01-07,,\n" +
					"SN-13,,C1,K1,,07/01/2025,5,\n" +
					"SN-14,,C1,K1,,2025-01-07,-5,x\n" +
					"SN-15,,C1,K1,,2999-01-01,5,\n", []store.ImportError{
					{Line: 2, Field: "opening_read_at", Message: "serial SN-1 has another opening read under this contract (2025-01-06T00:00:00Z)"},
					{Line: 3, Field: "opening_read_at", Message: "an opening meter needs the time of its read"},
					{Line: 4, Field: "opening_read_at", Message: "an opening read needs at least one meter"},
					{Line: 5, Field: "opening_read_at", Message: `"07/01/2025" is not a date YYYY-MM-DD or a time in RFC 3339`},
					{Line: 6, Field: "opening_black", Message: "a meter cannot be negative"},
					{Line: 6, Field: "opening_colour", Message: `"x" is not a whole number`},
					{Line: 7, Field: "opening_read_at", Message: "an opening read cannot be taken in the future"},
				}},
				{"users", "users", "email,customer_number,role,name\n" +
					"x@abc.example,C1,delegate,X\n" +
					"y@abc.example,C1,delegate,Y\n" +
					"z@abc.example,C1,primary,Z\n" +
					"X@abc.example,C2,delegate,Another X\n" +
					"w@abc.example,C1,owner,W\n" +
					"not-an-address,C1,delegate,\n" +
					"ann@other.example,C1,back_office,\n", []store.ImportError{
					{Line: 3, Field: "role", Message: "account C1 already has 2 delegates, the most it may have"},
					{Line: 4, Field: "role", Message: "account C1 already has a primary user"},
					{Line: 5, Field: "name", Message: "user x@abc.example has another name on line 2"},
					{Line: 6, Field: "role", Message: `"owner" is not primary, delegate or back_office`},
					{Line: 7, Field: "email", Message: `"not-an-address" is not an e-mail address`},
				}},
				{"agents", "agents", "agent_id,customer_number\nagent-new,C1\nagent-abc,C2\nagent-x,C9\nagent-new,C2\n", []store.ImportError{
					{Line: 3, Field: "agent_id", Message: "agent agent-abc belongs to account C1"},
					{Line: 4, Field: "customer_number", Message: "no account has customer number C9"},
					{Line: 5, Field: "agent_id", Message: "agent_id agent-new is also on line 2"},
				}},
				{"no such column", "agents", "agent_id,customer_number,colour\nagent-new,C1,red\n", []store.ImportError{
					{Line: 1, Field: "colour", Message: "unknown column (the agents columns are agent_id, customer_number)"},
				}},
				{"missing column", "users", "email,role\na@b.example,primary\n", []store.ImportError{
					{Line: 1, Field: "customer_number", Message: "required column missing"},
				}},
				{"ragged line", "accounts", "customer_number,name,language\nC5,Five,fr\nC6,Six\n", []store.ImportError{
					{Line: 3, Message: "2 fields, the header has 3"},
				}},
				{"empty file", "accounts", "", []store.ImportError{
					{Line: 1, Message: "no header line: the file is empty"},
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before := takeSnapshot(t, s)
					_, err := s.Import(ctx, tc.kind, strings.NewReader(tc.file), store.BySystem("import:test"))
					code(t, "bad file", err, domain.EINVALID)
					got, _ := store.AsImportErrors(err)
					if !reflect.DeepEqual([]store.ImportError(got), tc.want) {
						t.Errorf("errors:\n got %+v\nwant %+v", got, tc.want)
					}
					if after := takeSnapshot(t, s); !reflect.DeepEqual(before, after) {
						t.Errorf("a bad file changed what is stored")
					}
				})
			}
			_, err := s.Import(ctx, "printers", strings.NewReader("x\n"), store.BySystem("import:test"))
			code(t, "unknown kind", err, domain.ENOTFOUND)
			if !strings.Contains(err.Error(), "accounts, locations, contracts, devices, users, agents") {
				t.Errorf("unknown kind: %v, want the kinds named", err)
			}
		})
	}
}

// TestImportKindsDocumented: every kind has a doc line and every column one.
func TestImportKindsDocumented(t *testing.T) {
	for _, k := range store.ImportKinds() {
		if k.Doc == "" {
			t.Errorf("kind %s has no doc", k.Name)
		}
		for _, c := range k.Columns {
			if c.Doc == "" {
				t.Errorf("column %s of %s has no doc", c.Name, k.Name)
			}
		}
		if f := k.Format(); !strings.HasPrefix(f, k.Name+": ") || strings.Count(f, "\n") != len(k.Columns)+1 {
			t.Errorf("format of %s:\n%s", k.Name, f)
		}
	}
}
