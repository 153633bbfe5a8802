package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
)

// openMigrated opens a store on a database migrated as the collector
// does (on PostgreSQL the portal does not migrate).
func openMigrated(t *testing.T, url string) *store.Store {
	t.Helper()
	storetest.Seed(t, url)
	return open(t, url)
}

// code checks that err carries the domain code want ("" for no error).
func code(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := domain.ErrorCode(err); got != want {
		t.Errorf("%s: code %q (%v), want %q", what, got, err, want)
	}
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// fixture is an account with a location, a contract and a user.
type fixture struct {
	account  store.Account
	location store.Location
	contract store.Contract
	user     store.User
}

func newFixture(t *testing.T, s *store.Store, number string) fixture {
	t.Helper()
	ctx := context.Background()
	var f fixture
	var err error
	if f.account, err = s.CreateAccount(ctx, store.Account{CustomerNumber: number, Name: "ABC Co " + number, Language: domain.LanguageFrench}); err != nil {
		t.Fatal(err)
	}
	if f.location, err = s.CreateLocation(ctx, store.Location{AccountID: f.account.ID,
		LocationContact: store.LocationContact{Attention: "Jean Picard"},
		LocationAddress: store.LocationAddress{Company: "ABC Co", Street: "1 rue Principale", City: "Montréal", Province: "QC", PostalCode: "H2X 1Y4", Country: "CA"}}); err != nil {
		t.Fatal(err)
	}
	if f.contract, err = s.CreateContract(ctx, store.Contract{Number: "C-" + number, AccountID: f.account.ID, BillingPeriod: domain.BillingQuarterly,
		BillsBlack: true, BillsColour: true, Start: date(2026, 1, 1), ExpectedMonthlyVolume: 5000}); err != nil {
		t.Fatal(err)
	}
	if f.user, err = s.CreateUser(ctx, store.User{Email: "jpicard@" + number + ".example", Name: "Jean Picard", Language: domain.LanguageFrench}); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestAccounts(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			a, err := s.CreateAccount(ctx, store.Account{CustomerNumber: " 100200 ", Name: "ABC Co", Language: domain.LanguageEnglish})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Account(ctx, a.ID)
			if err != nil || got != a || got.CustomerNumber != "100200" {
				t.Errorf("Account = %+v, %v; want %+v", got, err, a)
			}
			if got, err := s.AccountByNumber(ctx, "100200"); err != nil || got != a {
				t.Errorf("AccountByNumber = %+v, %v", got, err)
			}
			for _, tc := range []struct {
				name string
				a    store.Account
				want string
			}{
				{"duplicate number", store.Account{CustomerNumber: "100200", Name: "Other", Language: domain.LanguageFrench}, domain.ECONFLICT},
				{"bad language", store.Account{CustomerNumber: "1", Name: "X", Language: "de"}, domain.EINVALID},
				{"no language", store.Account{CustomerNumber: "1", Name: "X"}, domain.EINVALID},
				{"no number", store.Account{Name: "X", Language: domain.LanguageFrench}, domain.EINVALID},
				{"no name", store.Account{CustomerNumber: "1", Language: domain.LanguageFrench}, domain.EINVALID},
			} {
				_, err := s.CreateAccount(ctx, tc.a)
				code(t, tc.name, err, tc.want)
			}
			_, err = s.Account(ctx, 999999)
			code(t, "missing account", err, domain.ENOTFOUND)
			if list, err := s.Accounts(ctx); err != nil || len(list) != 1 {
				t.Errorf("Accounts = %v, %v; want one", list, err)
			}
		})
	}
}

func TestLocations(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			f := newFixture(t, s, "1")
			// The customer's fields change alone...
			contact := store.LocationContact{Attention: "Marie Curie", Suite: "Bureau 210", Phone: "514 555 0100"}
			if err := s.UpdateLocationContact(ctx, f.account.ID, f.location.ID, contact, store.ByUser(f.user.ID)); err != nil {
				t.Fatal(err)
			}
			got, err := s.Location(ctx, f.location.ID)
			if err != nil || got.LocationContact != contact || got.LocationAddress != f.location.LocationAddress {
				t.Errorf("after the customer's update: %+v, %v", got, err)
			}
			// ...and so do the back office's.
			addr := store.LocationAddress{Company: "ABC Co", Street: "2 rue Sainte-Catherine", City: "Montréal", Province: "QC", PostalCode: "H3B 1A1", Country: "CA"}
			if err := s.UpdateLocationAddress(ctx, f.location.ID, addr); err != nil {
				t.Fatal(err)
			}
			got, err = s.Location(ctx, f.location.ID)
			if err != nil || got.LocationContact != contact || got.LocationAddress != addr {
				t.Errorf("after the back office's update: %+v, %v", got, err)
			}
			if list, err := s.Locations(ctx, f.account.ID); err != nil || len(list) != 1 || list[0] != got {
				t.Errorf("Locations = %+v, %v", list, err)
			}
			code(t, "contact of a missing location", s.UpdateLocationContact(ctx, f.account.ID, 999999, contact, store.ByUser(f.user.ID)), domain.ENOTFOUND)
			code(t, "address of a missing location", s.UpdateLocationAddress(ctx, 999999, addr), domain.ENOTFOUND)
			_, err = s.CreateLocation(ctx, store.Location{AccountID: 999999})
			code(t, "location of a missing account", err, domain.ENOTFOUND)
		})
	}
}

func TestContracts(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			f := newFixture(t, s, "1")
			got, err := s.Contract(ctx, f.contract.ID)
			if err != nil || got.Start != date(2026, 1, 1) || got.End != nil || !got.BillsBlack || !got.BillsColour || got.BillsTotal ||
				got.BillingPeriod != domain.BillingQuarterly || got.ExpectedMonthlyVolume != 5000 || got.Number != "C-1" || !got.CreatedAt.Equal(f.contract.CreatedAt) {
				t.Errorf("Contract = %+v, %v; want %+v", got, err, f.contract)
			}
			end := date(2028, 12, 31)
			c, err := s.CreateContract(ctx, store.Contract{Number: "C-2", AccountID: f.account.ID, BillingPeriod: domain.BillingMonthly, BillsTotal: true, Start: date(2026, 2, 1), End: &end})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := s.Contract(ctx, c.ID); err != nil || got.End == nil || !got.End.Equal(end) || got.BillingPeriod != domain.BillingMonthly {
				t.Errorf("Contract with an end = %+v, %v", got, err)
			}
			before := date(2025, 1, 1)
			valid := store.Contract{Number: "C-3", AccountID: f.account.ID, BillingPeriod: domain.BillingQuarterly, BillsBlack: true, Start: date(2026, 1, 1)}
			for _, tc := range []struct {
				name   string
				change func(c *store.Contract)
				want   string
			}{
				{"duplicate number", func(c *store.Contract) { c.Number = "C-1" }, domain.ECONFLICT},
				{"bad billing period", func(c *store.Contract) { c.BillingPeriod = "yearly" }, domain.EINVALID},
				{"no meter billed", func(c *store.Contract) { c.BillsBlack = false }, domain.EINVALID},
				{"no start", func(c *store.Contract) { c.Start = time.Time{} }, domain.EINVALID},
				{"ends before it starts", func(c *store.Contract) { c.End = &before }, domain.EINVALID},
				{"negative volume", func(c *store.Contract) { c.ExpectedMonthlyVolume = -1 }, domain.EINVALID},
				{"no number", func(c *store.Contract) { c.Number = " " }, domain.EINVALID},
				{"missing account", func(c *store.Contract) { c.AccountID = 999999 }, domain.ENOTFOUND},
			} {
				c := valid
				tc.change(&c)
				_, err := s.CreateContract(ctx, c)
				code(t, tc.name, err, tc.want)
			}
			if list, err := s.Contracts(ctx, f.account.ID); err != nil || len(list) != 2 {
				t.Errorf("Contracts = %+v, %v; want 2", list, err)
			}
			_, err = s.Contract(ctx, 999999)
			code(t, "missing contract", err, domain.ENOTFOUND)
		})
	}
}

func TestUsers(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			u, err := s.CreateUser(ctx, store.User{Email: " JPicard@ABCCO.com ", Name: "Jean Picard", Phone: "514 555 0101", Language: domain.LanguageFrench})
			if err != nil {
				t.Fatal(err)
			}
			if u.Email != "jpicard@abcco.com" || u.PasswordHash != nil {
				t.Errorf("created %+v", u)
			}
			got, err := s.UserByEmail(ctx, "JPICARD@abcco.COM")
			if err != nil || got.ID != u.ID {
				t.Errorf("UserByEmail in another case = %+v, %v", got, err)
			}
			for _, tc := range []struct {
				name string
				u    store.User
				want string
			}{
				{"same e-mail, another case", store.User{Email: "jpicard@abcco.COM", Language: domain.LanguageEnglish}, domain.ECONFLICT},
				{"bad language", store.User{Email: "x@abcco.com", Language: "es"}, domain.EINVALID},
				{"no e-mail", store.User{Email: "  ", Language: domain.LanguageEnglish}, domain.EINVALID},
			} {
				_, err := s.CreateUser(ctx, tc.u)
				code(t, tc.name, err, tc.want)
			}
			if err := s.SetPasswordHash(ctx, u.ID, "$argon2id$x"); err != nil {
				t.Fatal(err)
			}
			if got, err := s.User(ctx, u.ID); err != nil || got.PasswordHash == nil || *got.PasswordHash != "$argon2id$x" || !got.CreatedAt.Equal(u.CreatedAt) {
				t.Errorf("User after SetPasswordHash = %+v, %v", got, err)
			}
			code(t, "password of a missing user", s.SetPasswordHash(ctx, 999999, "h"), domain.ENOTFOUND)
			_, err = s.UserByEmail(ctx, "nobody@abcco.com")
			code(t, "missing e-mail", err, domain.ENOTFOUND)
		})
	}
}

func TestMemberships(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			f := newFixture(t, s, "1")
			other := newFixture(t, s, "2")
			users := make([]store.User, 4)
			for i := range users {
				var err error
				if users[i], err = s.CreateUser(ctx, store.User{Email: "u" + string(rune('a'+i)) + "@abcco.com", Language: domain.LanguageEnglish}); err != nil {
					t.Fatal(err)
				}
			}
			by := store.ByUser(f.user.ID)
			steps := []struct {
				name    string
				user    int64
				account int64
				role    domain.Role
				want    string
			}{
				{"primary", f.user.ID, f.account.ID, domain.RolePrimary, ""},
				{"first delegate", users[0].ID, f.account.ID, domain.RoleDelegate, ""},
				{"second delegate", users[1].ID, f.account.ID, domain.RoleDelegate, ""},
				{"third delegate refused", users[2].ID, f.account.ID, domain.RoleDelegate, domain.ECONFLICT},
				{"back office is no delegate", users[3].ID, f.account.ID, domain.RoleBackOffice, ""},
				{"delegates count per account", users[2].ID, other.account.ID, domain.RoleDelegate, ""},
				{"a second role on one account", users[0].ID, f.account.ID, domain.RolePrimary, domain.ECONFLICT},
				{"a second primary refused", users[2].ID, f.account.ID, domain.RolePrimary, domain.ECONFLICT},
				{"bad role", users[2].ID, f.account.ID, "owner", domain.EINVALID},
				{"missing account", users[2].ID, 999999, domain.RoleDelegate, domain.ENOTFOUND},
				{"missing user", 999999, f.account.ID, domain.RolePrimary, domain.ENOTFOUND},
			}
			for _, st := range steps {
				_, err := s.AddMembership(ctx, store.Membership{UserID: st.user, AccountID: st.account, Role: st.role}, by)
				code(t, st.name, err, st.want)
			}
			ms, err := s.Memberships(ctx, f.account.ID)
			if err != nil || len(ms) != 4 {
				t.Fatalf("Memberships = %+v, %v; want 4", ms, err)
			}
			// Either side ends a delegation; then another delegate fits.
			if err := s.RemoveMembership(ctx, users[0].ID, f.account.ID, store.ByUser(users[0].ID)); err != nil {
				t.Fatal(err)
			}
			code(t, "remove again", s.RemoveMembership(ctx, users[0].ID, f.account.ID, by), domain.ENOTFOUND)
			if _, err := s.AddMembership(ctx, store.Membership{UserID: users[2].ID, AccountID: f.account.ID, Role: domain.RoleDelegate}, by); err != nil {
				t.Errorf("a delegate after one left: %v", err)
			}
			if ms, err := s.UserMemberships(ctx, users[2].ID); err != nil || len(ms) != 2 {
				t.Errorf("UserMemberships = %+v, %v; want 2 accounts", ms, err)
			}
			_, err = s.AddMembership(ctx, store.Membership{UserID: users[3].ID, AccountID: other.account.ID, Role: domain.RolePrimary}, store.Actor{})
			code(t, "no actor", err, domain.EINVALID)
			// Every change of a role is recorded with who and when.
			changes, err := s.StateChanges(ctx, store.EntityAccount, f.account.ID)
			if err != nil || len(changes) != 6 {
				t.Fatalf("StateChanges = %+v, %v; want 6 (4 added, 1 removed, 1 added)", changes, err)
			}
			removed := changes[4]
			if removed.Old == nil || *removed.Old != "delegate" || removed.New != nil || removed.ByUserID == nil || *removed.ByUserID != users[0].ID || removed.At.IsZero() {
				t.Errorf("removal recorded as %+v", removed)
			}
		})
	}
}

// TestDelegatesRace: concurrent invitations never make a third delegate.
func TestDelegatesRace(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			f := newFixture(t, s, "1")
			const n = 6
			errs := make(chan error, n)
			for i := range n {
				u, err := s.CreateUser(ctx, store.User{Email: "d" + string(rune('a'+i)) + "@abcco.com", Language: domain.LanguageFrench})
				if err != nil {
					t.Fatal(err)
				}
				go func() {
					_, err := s.AddMembership(ctx, store.Membership{UserID: u.ID, AccountID: f.account.ID, Role: domain.RoleDelegate}, store.BySystem("test"))
					errs <- err
				}()
			}
			added := 0
			for range n {
				err := <-errs
				switch domain.ErrorCode(err) {
				case "":
					added++
				case domain.ECONFLICT:
				default:
					t.Errorf("AddMembership: %v", err)
				}
			}
			if added != domain.MaxDelegates {
				t.Errorf("%d delegates added at once, want %d", added, domain.MaxDelegates)
			}
		})
	}
}
