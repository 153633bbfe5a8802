package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

func TestDevicesUnderContract(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			// A device an agent already read, serial padded and in lower case.
			storetest.Seed(t, url, storetest.Device{Serial: "abc123 ", Model: "Xerox VersaLink C405",
				Reads: []storetest.Read{{At: t0, Counters: []wire.Counter{{Kind: domain.CounterTotal, Value: 10}}}}})
			s, ctx := open(t, url), context.Background()
			f := newFixture(t, s, "1")
			other := newFixture(t, s, "2")
			by := store.ByUser(f.user.ID)

			// The read device is taken as it is: one identity, model kept.
			d, err := s.PutDeviceUnderContract(ctx, store.ContractedDevice{Serial: "ABC123", Model: "C405", ProductCode: "MX1",
				ContractID: f.contract.ID, LocationID: &f.location.ID, ReadContactID: &f.user.ID}, by)
			if err != nil {
				t.Fatal(err)
			}
			if d.Key != "sn:ABC123" || d.Model != "Xerox VersaLink C405" || d.AccountID != f.account.ID || d.State != domain.ContractActive || d.Replenishment != domain.ReplenishmentEligible {
				t.Errorf("put under contract: %+v", d)
			}
			all, err := s.Devices(ctx)
			if err != nil || len(all) != 1 || all[0].ID != d.ID || all[0].Latest == nil {
				t.Errorf("Devices = %+v, %v; want the one device with its read", all, err)
			}
			got, err := s.AccountDeviceBySerial(ctx, f.account.ID, " abc123\t")
			if err != nil || !reflect.DeepEqual(got, d) {
				t.Errorf("AccountDeviceBySerial = %+v, %v; want %+v", got, err, d)
			}
			_, err = s.AccountDeviceBySerial(ctx, other.account.ID, "ABC123")
			code(t, "another account's serial", err, domain.ENOTFOUND)

			// A serial no agent has read yet is created.
			n, err := s.PutDeviceUnderContract(ctx, store.ContractedDevice{Serial: "new-1", Model: "B415", ProductCode: "MX2",
				ContractID: f.contract.ID, Replenishment: domain.ReplenishmentIneligible}, store.BySystem("import"))
			if err != nil || n.Serial != "NEW-1" || n.Model != "B415" || n.LocationID != nil {
				t.Errorf("new device = %+v, %v", n, err)
			}
			if list, err := s.AccountDevices(ctx, f.account.ID); err != nil || len(list) != 2 {
				t.Errorf("AccountDevices = %+v, %v; want 2", list, err)
			}

			for _, tc := range []struct {
				name string
				d    store.ContractedDevice
				want string
			}{
				{"already under contract", store.ContractedDevice{Serial: "abc123", ContractID: f.contract.ID}, domain.ECONFLICT},
				{"another account's device", store.ContractedDevice{Serial: "ABC123", ContractID: other.contract.ID}, domain.ECONFLICT},
				{"blank serial", store.ContractedDevice{Serial: " \x00", ContractID: f.contract.ID}, domain.EINVALID},
				{"bad replenishment", store.ContractedDevice{Serial: "X1", ContractID: f.contract.ID, Replenishment: "maybe"}, domain.EINVALID},
				{"another account's location", store.ContractedDevice{Serial: "X1", ContractID: f.contract.ID, LocationID: &other.location.ID}, domain.EINVALID},
				{"missing contract", store.ContractedDevice{Serial: "X1", ContractID: 999999}, domain.ENOTFOUND},
				{"missing contact", store.ContractedDevice{Serial: "X1", ContractID: f.contract.ID, ReadContactID: new(int64(999999))}, domain.ENOTFOUND},
			} {
				_, err := s.PutDeviceUnderContract(ctx, tc.d, by)
				code(t, tc.name, err, tc.want)
			}

			// State changes, each recorded with who and when.
			steps := []struct {
				name  string
				set   func() error
				want  string
				state domain.ContractState
				repl  domain.ReplenishmentState
			}{
				{"replenishment active", func() error { return s.SetReplenishment(ctx, d.ID, domain.ReplenishmentActive, by) }, "", domain.ContractActive, domain.ReplenishmentActive},
				{"same again: no change", func() error { return s.SetReplenishment(ctx, d.ID, domain.ReplenishmentActive, by) }, "", domain.ContractActive, domain.ReplenishmentActive},
				{"bad replenishment", func() error { return s.SetReplenishment(ctx, d.ID, "on", by) }, domain.EINVALID, domain.ContractActive, domain.ReplenishmentActive},
				{"ask removal", func() error { return s.SetDeviceState(ctx, d.ID, domain.ContractPendingRemoval, by) }, "", domain.ContractPendingRemoval, domain.ReplenishmentActive},
				{"planner makes it ineligible", func() error {
					return s.SetReplenishment(ctx, d.ID, domain.ReplenishmentIneligible, store.BySystem("planner"))
				}, "", domain.ContractPendingRemoval, domain.ReplenishmentIneligible},
				{"not active: no auto replenishment", func() error { return s.SetReplenishment(ctx, d.ID, domain.ReplenishmentActive, by) }, domain.ECONFLICT, domain.ContractPendingRemoval, domain.ReplenishmentIneligible},
				{"bad state", func() error { return s.SetDeviceState(ctx, d.ID, "gone", by) }, domain.EINVALID, domain.ContractPendingRemoval, domain.ReplenishmentIneligible},
				{"removed", func() error {
					return s.SetDeviceState(ctx, d.ID, domain.ContractRemoved, store.BySystem("back-office"))
				}, "", domain.ContractRemoved, domain.ReplenishmentIneligible},
				{"removed stays removed", func() error { return s.SetDeviceState(ctx, d.ID, domain.ContractActive, by) }, domain.ECONFLICT, domain.ContractRemoved, domain.ReplenishmentIneligible},
				{"no actor", func() error { return s.SetDeviceState(ctx, d.ID, domain.ContractActive, store.Actor{}) }, domain.EINVALID, domain.ContractRemoved, domain.ReplenishmentIneligible},
				{"missing device", func() error { return s.SetDeviceState(ctx, 999999, domain.ContractActive, by) }, domain.ENOTFOUND, domain.ContractRemoved, domain.ReplenishmentIneligible},
			}
			for _, st := range steps {
				code(t, st.name, st.set(), st.want)
				got, err := s.ContractedDevice(ctx, d.ID)
				if err != nil || got.State != st.state || got.Replenishment != st.repl {
					t.Errorf("after %s: %s / %s, %v; want %s / %s", st.name, got.State, got.Replenishment, err, st.state, st.repl)
				}
			}
			changes, err := s.StateChanges(ctx, store.EntityDevice, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			type change struct{ field, old, new, by string }
			var gotChanges []change
			for _, c := range changes {
				who := ""
				if c.ByUserID != nil {
					who = "user"
				}
				if c.BySystem != nil {
					who = *c.BySystem
				}
				if c.At.IsZero() || c.At.After(time.Now().Add(time.Minute)) {
					t.Errorf("change at %v", c.At)
				}
				gotChanges = append(gotChanges, change{c.Field, deref(c.Old), deref(c.New), who})
			}
			want := []change{
				{"state", "", "active", "user"},
				{"replenishment", "", "eligible", "user"},
				{"replenishment", "eligible", "active", "user"},
				{"state", "active", "pending_removal", "user"},
				{"replenishment", "active", "ineligible", "planner"},
				{"state", "pending_removal", "removed", "back-office"},
			}
			if len(gotChanges) != len(want) {
				t.Fatalf("changes = %+v, want %+v", gotChanges, want)
			}
			for i := range want {
				if gotChanges[i] != want[i] {
					t.Errorf("change %d = %+v, want %+v", i, gotChanges[i], want[i])
				}
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
