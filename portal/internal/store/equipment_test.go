package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
)

// member gives a user a role on an account.
func member(t testing.TB, s *store.Store, userID, accountID int64, role domain.Role) {
	t.Helper()
	if _, err := s.AddMembership(context.Background(), store.Membership{UserID: userID, AccountID: accountID, Role: role}, store.BySystem("test")); err != nil {
		t.Fatal(err)
	}
}

// customer is a fixture whose user is the account's primary user.
func customer(t *testing.T, s *store.Store, number string) fixture {
	t.Helper()
	f := newFixture(t, s, number)
	member(t, s, f.user.ID, f.account.ID, domain.RolePrimary)
	return f
}

// put puts a serial under the fixture's contract at a location (nil: none).
func put(t *testing.T, s *store.Store, f fixture, serial string, location *int64) store.ContractedDevice {
	t.Helper()
	d, err := s.PutDeviceUnderContract(context.Background(), store.ContractedDevice{Serial: serial, ProductCode: "MX1",
		ContractID: f.contract.ID, LocationID: location}, store.BySystem("test"))
	if err != nil {
		t.Fatalf("put %s under contract: %v", serial, err)
	}
	return d
}

// sqlxOf is the store's pool with the placeholders of its dialect.
func sqlxOf(s *store.Store) *sqlx.DB {
	driver := schema.DriverSQLite
	if s.Dialect() == schema.Postgres {
		driver = schema.DriverPostgres
	}
	return sqlx.NewDb(s.DB(), driver)
}

// sent is an e-mail of the outbox.
type sent struct {
	To       string `db:"to_address"`
	Language string `db:"language"`
	Template string `db:"template"`
	Subject  string `db:"subject"`
	Text     string `db:"body_text"`
	HTML     string `db:"body_html"`
}

// outbox returns the e-mails queued so far, oldest first.
func outbox(t *testing.T, s *store.Store) []sent {
	t.Helper()
	var out []sent
	if err := sqlxOf(s).Select(&out, `SELECT to_address, language, template, subject, body_text, body_html FROM email_outbox ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAccountEquipment(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			storetest.Seed(t, url, storetest.Sample(now)...)
			s, ctx := open(t, url), context.Background()
			s.SetClock(func() time.Time { return now })
			f := customer(t, s, "1")
			other := customer(t, s, "2")
			second, err := s.CreateLocation(ctx, store.Location{AccountID: f.account.ID,
				LocationAddress: store.LocationAddress{Company: "ABC Co", Street: "125 rue Jean-Coutu", City: "Varennes", Province: "QC", PostalCode: "J3X 0E1", Country: "CA"}})
			if err != nil {
				t.Fatal(err)
			}
			colour := put(t, s, f, "3TB241507", &f.location.ID) // colour, read 3 minutes ago
			mono := put(t, s, f, "phbbk12345", &second.ID)      // -3 "some remaining"
			stale := put(t, s, f, "VCF9204711", &f.location.ID) // read 50 hours ago
			bare := put(t, s, f, "NEW-1", nil)                  // no location, no read
			removed := put(t, s, f, "3100R512345", &second.ID)  // removed: not equipment
			theirs := put(t, s, other, "E78123H9N456", &other.location.ID)
			if err := s.SetDeviceState(ctx, removed.ID, domain.ContractRemoved, store.BySystem("test")); err != nil {
				t.Fatal(err)
			}
			if err := s.SetDeviceState(ctx, stale.ID, domain.ContractPendingRemoval, store.BySystem("test")); err != nil {
				t.Fatal(err)
			}

			list, err := s.AccountEquipment(ctx, f.account.ID, 48*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, e := range list {
				ids = append(ids, e.DeviceID)
			}
			// By location (first created first), then serial; none last.
			if want := []int64{colour.ID, stale.ID, mono.ID, bare.ID}; !reflect.DeepEqual(ids, want) {
				t.Fatalf("devices %v, want %v (theirs %d, removed %d)", ids, want, theirs.ID, removed.ID)
			}
			c := list[0]
			if c.Serial != "3TB241507" || c.Model != "Xerox VersaLink C405" || c.ProductCode != "MX1" || c.State != domain.ContractActive || c.PendingRemoval ||
				c.Replenishment != domain.ReplenishmentEligible || c.Location == nil || *c.Location != f.location {
				t.Errorf("colour device = %+v (location %+v)", c, c.Location)
			}
			if c.LastReadAt == nil || !c.LastReadAt.Equal(now.Add(-3*time.Minute)) || !c.Automatic ||
				deref64(c.Black) != 90210 || deref64(c.Colour) != 38240 || deref64(c.Total) != 128450 || len(c.Supplies) != 7 {
				t.Errorf("colour device read = %v %v %v/%v/%v, %d supplies", c.LastReadAt, c.Automatic, c.Black, c.Colour, c.Total, len(c.Supplies))
			}
			if s := c.Supplies[2]; s.Colour != "magenta" || s.State != domain.LevelMeasured || s.Percent == nil || *s.Percent != 7 {
				t.Errorf("magenta = %+v", s)
			}
			m := list[2]
			if m.Colour != nil || deref64(m.Black) != 48210 || m.Location == nil || m.Location.ID != second.ID || m.Location.PostalCode != "J3X 0E1" {
				t.Errorf("mono device = %+v", m)
			}
			// -3 stays a state, never a percentage.
			if len(m.Supplies) != 1 || m.Supplies[0].State != domain.LevelSomeRemaining || m.Supplies[0].Percent != nil {
				t.Errorf("mono supplies = %+v", m.Supplies)
			}
			st := list[1]
			if !st.PendingRemoval || st.State != domain.ContractPendingRemoval || st.Automatic || st.LastReadAt == nil {
				t.Errorf("stale, pending removal = %+v", st)
			}
			// The window decides what automatic means.
			if wide, err := s.AccountEquipment(ctx, f.account.ID, 72*time.Hour); err != nil || !wide[1].Automatic {
				t.Errorf("with a 72 h window, read 50 h ago: %+v, %v", wide[1], err)
			}
			n := list[3]
			if n.Location != nil || n.LastReadAt != nil || n.Automatic || n.Black != nil || n.Total != nil || n.Supplies != nil {
				t.Errorf("device with neither location nor read = %+v", n)
			}

			// A page at a time, in the same order, with the count of all.
			page, err := s.AccountEquipmentPage(ctx, f.account.ID, 48*time.Hour, 2, 1)
			if err != nil || page.Total != 4 || len(page.Devices) != 2 || page.Devices[0].DeviceID != stale.ID || page.Devices[1].DeviceID != mono.ID ||
				!reflect.DeepEqual(page.Devices[1], list[2]) {
				t.Errorf("page 2 of 2 = %+v, %v", page, err)
			}
			if page, err := s.AccountEquipmentPage(ctx, f.account.ID, 48*time.Hour, 0, 10); err != nil || page.Total != 4 || len(page.Devices) != 0 {
				t.Errorf("past the end = %+v, %v", page, err)
			}
			_, err = s.AccountEquipmentPage(ctx, f.account.ID, 48*time.Hour, 501, 0)
			code(t, "page too large", err, domain.EINVALID)

			// Another account sees only its own.
			if theirList, err := s.AccountEquipment(ctx, other.account.ID, 48*time.Hour); err != nil || len(theirList) != 1 || theirList[0].DeviceID != theirs.ID {
				t.Errorf("other account's equipment = %+v, %v", theirList, err)
			}
			if none, err := s.AccountEquipment(ctx, 999999, 48*time.Hour); err != nil || len(none) != 0 {
				t.Errorf("equipment of a missing account = %+v, %v", none, err)
			}
		})
	}
}

func deref64(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}

func TestAddDevice(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			storetest.Seed(t, url, storetest.Device{Serial: "SEEN-ONLY", Reads: []storetest.Read{{At: t0}}})
			s, ctx := open(t, url), context.Background()
			f := customer(t, s, "1") // location H2X 1Y4
			other := customer(t, s, "2")
			if err := s.UpdateLocationAddress(ctx, other.location.ID, store.LocationAddress{Company: "XYZ", Street: "500 rue Principale", City: "Québec", Province: "QC", PostalCode: "g2g 2t9", Country: "CA"}); err != nil {
				t.Fatal(err)
			}
			mine := put(t, s, f, "MX4123456", &f.location.ID)
			theirs := put(t, s, other, "EX7123456", &other.location.ID)
			gone := put(t, s, f, "GONE-1", &f.location.ID)
			if err := s.SetDeviceState(ctx, gone.ID, domain.ContractRemoved, store.BySystem("test")); err != nil {
				t.Fatal(err)
			}
			put(t, s, f, "NOWHERE-1", nil)

			// The postal code compares without spaces and case.
			got, err := s.AddDevice(ctx, f.account.ID, f.user.ID, " mx4123456 ", "h2x1y4")
			if err != nil || got.Outcome != store.AddDeviceOnAccount || got.DeviceID != mine.ID || got.Request != nil {
				t.Errorf("own device = %+v, %v", got, err)
			}
			match, err := s.MatchSerialPostalCode(ctx, "EX7123456", "G2G 2T9")
			if err != nil || match.DeviceID != theirs.ID || match.AccountID != other.account.ID || match.LocationID != other.location.ID {
				t.Errorf("MatchSerialPostalCode = %+v, %v", match, err)
			}

			// Another account's device: a link request of this account,
			// naming nothing of the other.
			got, err = s.AddDevice(ctx, f.account.ID, f.user.ID, "EX7123456", "G2G 2T9")
			if err != nil || got.Outcome != store.AddDeviceLinkRequested || got.Request == nil || got.DeviceID != 0 {
				t.Fatalf("another account's device = %+v, %v", got, err)
			}
			r := *got.Request
			if r.Kind != store.RequestSerialLink || r.AccountID == nil || *r.AccountID != f.account.ID || r.CustomerNumber != "1" ||
				r.Serial != "EX7123456" || r.PostalCode != "G2G2T9" || r.UserID == nil || *r.UserID != f.user.ID || !r.Open() || len(r.Devices) != 0 ||
				strings.Contains(r.Body+r.Subject+r.Name, "XYZ") {
				t.Errorf("link request = %+v", r)
			}
			again, err := s.AddDevice(ctx, f.account.ID, f.user.ID, "ex7123456", "G2G2T9")
			if err != nil || again.Request == nil || again.Request.ID != r.ID {
				t.Errorf("asked again = %+v, %v; want request %d again", again, err, r.ID)
			}
			if theirs, err := s.AccountRequests(ctx, other.account.ID, 0); err != nil || len(theirs) != 0 {
				t.Errorf("the other account's requests = %+v, %v", theirs, err)
			}

			// No match: one answer whatever the reason.
			for _, tc := range []struct{ name, serial, postal string }{
				{"postal code differs", "EX7123456", "H2X 1Y4"},
				{"own serial, postal code differs", "MX4123456", "J3X 0E1"},
				{"unknown serial", "NOPE-1", "H2X 1Y4"},
				{"seen by an agent, not under contract", "SEEN-ONLY", "H2X 1Y4"},
				{"removed", "GONE-1", "H2X 1Y4"},
				{"no location", "NOWHERE-1", "H2X 1Y4"},
			} {
				_, err := s.AddDevice(ctx, f.account.ID, f.user.ID, tc.serial, tc.postal)
				if !errors.Is(err, store.ErrSerialPostalMismatch) || domain.ErrorMessage(err) != store.ErrSerialPostalMismatch.Message {
					t.Errorf("%s: %v, want ErrSerialPostalMismatch", tc.name, err)
				}
				code(t, tc.name, err, domain.EINVALID)
				_, err = s.MatchSerialPostalCode(ctx, tc.serial, tc.postal)
				if !errors.Is(err, store.ErrSerialPostalMismatch) {
					t.Errorf("MatchSerialPostalCode, %s: %v", tc.name, err)
				}
			}
			_, err = s.AddDevice(ctx, f.account.ID, f.user.ID, " ", "H2X 1Y4")
			code(t, "no serial", err, domain.EINVALID)
			if errors.Is(err, store.ErrSerialPostalMismatch) {
				t.Error("no serial answered as a mismatch")
			}
			_, err = s.AddDevice(ctx, f.account.ID, f.user.ID, "MX4123456", " ")
			code(t, "no postal code", err, domain.EINVALID)
			_, err = s.AddDevice(ctx, f.account.ID, other.user.ID, "MX4123456", "H2X 1Y4")
			code(t, "user of another account", err, domain.ENOTFOUND)

			// A serial two accounts hold at one postal code: the back office.
			dup, err := s.PutConflictingDeviceUnderContract(ctx, store.ContractedDevice{Serial: "MX4123456", ContractID: other.contract.ID, LocationID: &other.location.ID}, store.BySystem("test"))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.UpdateLocationAddress(ctx, other.location.ID, f.location.LocationAddress); err != nil {
				t.Fatal(err)
			}
			_, err = s.MatchSerialPostalCode(ctx, "MX4123456", "H2X 1Y4")
			code(t, "serial of two accounts", err, domain.ECONFLICT)
			// Adding it to one of them still finds its own.
			if got, err := s.AddDevice(ctx, other.account.ID, other.user.ID, "MX4123456", "H2X 1Y4"); err != nil || got.DeviceID != dup.ID {
				t.Errorf("conflicting serial added to its second account = %+v, %v", got, err)
			}
		})
	}
}

func TestRequestSerialLinkWhileRegistering(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			f := customer(t, s, "1")
			link := store.SerialLink{Serial: " ab-123 ", PostalCode: "h2x 1y4", Name: "Jean Picard", Email: "JPicard@ABCCO.com", Phone: "514 555 0101", Note: "Nouveau\nsite"}
			r, err := s.RequestSerialLink(ctx, link)
			if err != nil {
				t.Fatal(err)
			}
			if r.AccountID != nil || r.UserID != nil || r.Serial != "AB-123" || r.PostalCode != "H2X1Y4" || r.Email != "jpicard@abcco.com" ||
				r.Name != "Jean Picard" || r.Body != "Nouveau\nsite" || r.CustomerNumber != "" {
				t.Errorf("request = %+v", r)
			}
			if again, err := s.RequestSerialLink(ctx, link); err != nil || again.ID != r.ID {
				t.Errorf("the same request again = %+v, %v; want %d", again, err, r.ID)
			}
			link.Email = "other@abcco.com"
			if another, err := s.RequestSerialLink(ctx, link); err != nil || another.ID == r.ID {
				t.Errorf("another person's request = %+v, %v", another, err)
			}
			for _, tc := range []struct {
				name string
				l    store.SerialLink
				want string
			}{
				{"no serial", store.SerialLink{Email: "a@b.c"}, domain.EINVALID},
				{"no e-mail", store.SerialLink{Serial: "X"}, domain.EINVALID},
				{"account without user", store.SerialLink{Serial: "X", AccountID: &f.account.ID}, domain.EINVALID},
				{"control character", store.SerialLink{Serial: "X", Email: "a@b.c", Name: "a\x1b[31m"}, domain.EINVALID},
				{"user of another account", store.SerialLink{Serial: "X", AccountID: &f.account.ID, UserID: new(int64(999999))}, domain.ENOTFOUND},
			} {
				_, err := s.RequestSerialLink(ctx, tc.l)
				code(t, tc.name, err, tc.want)
			}
			open, err := s.BackOfficeOpenRequests(ctx, store.RequestSerialLink, 0)
			if err != nil || len(open) != 2 || open[0].ID != r.ID {
				t.Errorf("open link requests = %+v, %v", open, err)
			}
		})
	}
}

func TestNormalPostalCode(t *testing.T) {
	for in, want := range map[string]string{
		"G2G 2T9": "G2G2T9", " g2g2t9 ": "G2G2T9", "h3b\u00a01a1": "H3B1A1", "": "", "  ": "", "75008": "75008", "sw1a 1aa": "SW1A1AA", "A9A-9A9": "A9A-9A9",
	} {
		if got := store.NormalPostalCode(in); got != want {
			t.Errorf("NormalPostalCode(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkAccountEquipment500 is "My equipment" of an account with 500
// devices under contract over 10 locations, each with a read and its
// supplies, beside another account of 500 devices: the whole list, and
// its first page of 50.
func BenchmarkAccountEquipment500(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s, account := fleet500(b, be.url(b))
			ctx := context.Background()
			b.Run("all", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.AccountEquipment(ctx, account, 24*time.Hour); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("page50", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.AccountEquipmentPage(ctx, account, 24*time.Hour, 50, 0); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// fleet500 opens a store on a database holding two accounts of 500
// devices each (storetest.InsertFleet), its statistics fresh, and returns
// it with the first account's id.
func fleet500(b *testing.B, url string) (*store.Store, int64) {
	b.Helper()
	storetest.Seed(b, url)
	s, err := store.Open(context.Background(), url, discard)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	now := time.Now().UTC()
	var main int64
	for i, number := range []string{"B1", "B2"} {
		a, err := s.CreateAccount(ctx, store.Account{CustomerNumber: number, Name: "Bench " + number, Language: domain.LanguageFrench})
		if err != nil {
			b.Fatal(err)
		}
		c, err := s.CreateContract(ctx, store.Contract{Number: "C-" + number, AccountID: a.ID, BillingPeriod: domain.BillingQuarterly, BillsBlack: true, Start: date(2026, 1, 1)})
		if err != nil {
			b.Fatal(err)
		}
		var locations []int64
		for l := range 10 {
			loc, err := s.CreateLocation(ctx, store.Location{AccountID: a.ID, LocationAddress: store.LocationAddress{
				Company: "Bench", Street: fmt.Sprintf("%d rue Principale", l+1), City: "Montréal", Province: "QC", PostalCode: "H2X 1Y4", Country: "CA"}})
			if err != nil {
				b.Fatal(err)
			}
			locations = append(locations, loc.ID)
		}
		if err := storetest.InsertFleet(ctx, sqlxOf(s), storetest.Fleet{AccountID: a.ID, ContractID: c.ID, LocationIDs: locations,
			Devices: 500, Prefix: number + "-", ReadAt: now.Add(-time.Hour)}); err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			main = a.ID
		}
	}
	if _, err := s.DB().ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	list, err := s.AccountEquipment(ctx, main, 24*time.Hour)
	if err != nil || len(list) != 500 || !list[0].Automatic || len(list[0].Supplies) == 0 || list[0].Location == nil {
		b.Fatalf("AccountEquipment = %d devices, %v", len(list), err)
	}
	return s, main
}
