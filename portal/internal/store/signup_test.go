package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// registrationFixture adds, to a sign-in fixture, a location at postal
// code G2G 2T9 with a device under contract.
func registrationFixture(t *testing.T, url string) (*signinFixture, store.ContractedDevice) {
	t.Helper()
	f := newSigninFixture(t, url)
	ctx := context.Background()
	loc, err := f.s.CreateLocation(ctx, store.Location{AccountID: f.account.ID, LocationAddress: store.LocationAddress{Street: "500 RUE PRINCIPALE", PostalCode: "G2G 2T9"}})
	if err != nil {
		t.Fatal(err)
	}
	k, err := f.s.CreateContract(ctx, store.Contract{Number: "K-1", AccountID: f.account.ID, BillingPeriod: domain.BillingQuarterly, BillsBlack: true, Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.s.PutDeviceUnderContract(ctx, store.ContractedDevice{Serial: "MX4123456", ContractID: k.ID, LocationID: &loc.ID}, store.BySystem("test"))
	if err != nil {
		t.Fatal(err)
	}
	return f, d
}

func TestRegistrationDevice(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f, d := registrationFixture(t, be.url(t))
			ctx := context.Background()
			for _, tc := range []struct {
				serial, postal string
				found          bool
			}{
				{"MX4123456", "G2G 2T9", true},
				{" mx4123456 ", "g2g2t9", true},
				{"MX4123456", "G2G 2T8", false},
				{"MX4123457", "G2G 2T9", false},
				{"MX4123456", "", false},
				{"", "G2G 2T9", false},
			} {
				got, err := f.s.RegistrationDevice(ctx, tc.serial, tc.postal)
				if tc.found && (err != nil || got.ID != d.ID || got.AccountID != f.account.ID) {
					t.Errorf("RegistrationDevice(%q, %q) = %+v, %v; want device %d", tc.serial, tc.postal, got, err, d.ID)
				}
				if !tc.found && domain.ErrorCode(err) != domain.ENOTFOUND {
					t.Errorf("RegistrationDevice(%q, %q) = %v, want ENOTFOUND", tc.serial, tc.postal, err)
				}
			}
			// A device pending removal no longer registers anyone.
			if err := f.s.SetDeviceState(ctx, d.ID, domain.ContractPendingRemoval, store.BySystem("test")); err != nil {
				t.Fatal(err)
			}
			if _, err := f.s.RegistrationDevice(ctx, "MX4123456", "G2G 2T9"); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("a device pending removal matched: %v", err)
			}
		})
	}
}

func TestCompleteRegistration(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f, d := registrationFixture(t, be.url(t))
			ctx := context.Background()
			link := func(b byte, email string, readContact bool) []byte {
				t.Helper()
				payload, _ := json.Marshal(store.Registration{Name: "Jean", Email: email, Phone: "418", Address: "500 rue", Language: domain.LanguageEnglish,
					AccountID: f.account.ID, DeviceID: d.ID, Serial: d.Serial, ReadContact: readContact})
				h := bytes.Repeat([]byte{b}, 32)
				if _, err := f.s.CreateOneTimeToken(ctx, store.OneTimeToken{Kind: store.TokenRegister, Hash: h, Payload: payload, ExpiresAt: t0.Add(72 * time.Hour)}); err != nil {
					t.Fatal(err)
				}
				return h
			}
			mailsFor := func(o store.RegistrationOutcome) []mail.Message {
				return []mail.Message{{Key: "welcome:" + o.User.Email, To: o.User.Email, Lang: "en", Template: "welcome",
					Data: map[string]any{"Name": o.User.Name, "CustomerNumber": o.Account.CustomerNumber, "PortalURL": "http://portal.test/"}}}
			}

			first := link(1, "First@abcco.example", true)
			out, err := f.s.CompleteRegistration(ctx, first, "$argon2id$first", mailsFor)
			if err != nil || !out.Primary || out.PrimaryUser != nil || out.User.Email != "first@abcco.example" || out.User.Language != domain.LanguageEnglish || out.Account.ID != f.account.ID {
				t.Fatalf("first registration = %+v, %v", out, err)
			}
			dev, _ := f.s.AccountDeviceBySerial(ctx, f.account.ID, d.Serial)
			if dev.ReadContactID == nil || *dev.ReadContactID != out.User.ID {
				t.Errorf("read contact = %v", dev.ReadContactID)
			}
			changes, _ := f.s.StateChanges(ctx, store.EntityDevice, d.ID)
			if last := changes[len(changes)-1]; last.Field != "read_contact_id" || last.ByUserID == nil || *last.ByUserID != out.User.ID {
				t.Errorf("the read contact change is not recorded: %+v", last)
			}

			second := link(2, "second@abcco.example", false)
			out2, err := f.s.CompleteRegistration(ctx, second, "$argon2id$second", nil)
			if err != nil || out2.Primary || out2.PrimaryUser == nil || out2.PrimaryUser.ID != out.User.ID {
				t.Fatalf("second registration = %+v, %v; want the first user as the primary", out2, err)
			}
			ms, _ := f.s.Memberships(ctx, f.account.ID)
			if len(ms) != 1 {
				t.Errorf("memberships = %+v, want the primary only", ms)
			}
			reqs, _ := f.s.BackOfficeOpenRequests(ctx, store.RequestSerialLink, 10)
			if len(reqs) != 1 || reqs[0].Subject != store.LinkHasPrimary || *reqs[0].UserID != out2.User.ID {
				t.Errorf("link requests = %+v", reqs)
			}

			// An address that has become a user meanwhile: ECONFLICT, and the
			// link is left unused.
			again := link(3, "FIRST@abcco.example", false)
			if _, err := f.s.CompleteRegistration(ctx, again, "$argon2id$x", nil); domain.ErrorCode(err) != domain.ECONFLICT {
				t.Errorf("a registration of a known address = %v, want ECONFLICT", err)
			}
			if _, err := f.s.OneTimeToken(ctx, store.TokenRegister, again); err != nil {
				t.Errorf("the refused link was used up: %v", err)
			}
			if _, err := f.s.CompleteRegistration(ctx, first, "$argon2id$x", nil); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("a used link = %v, want ENOTFOUND", err)
			}
			var queued int
			if err := f.s.DB().QueryRowContext(ctx, `SELECT count(*) FROM email_outbox`).Scan(&queued); err != nil || queued != 1 {
				t.Errorf("e-mails queued = %d, %v; want the first registration's", queued, err)
			}
		})
	}
}
