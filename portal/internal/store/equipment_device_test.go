package store_test

import (
	"context"
	"testing"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
)

// TestAccountEquipmentDevice: a device of the account's equipment is
// found, pending removal included; another account's, a removed one and
// one that does not exist are ENOTFOUND alike.
func TestAccountEquipmentDevice(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			storetest.Seed(t, url)
			s, ctx := open(t, url), context.Background()
			f := customer(t, s, "1")
			other := customer(t, s, "2")
			active := put(t, s, f, "ACT-1", &f.location.ID)
			pending := put(t, s, f, "PEND-1", nil)
			removed := put(t, s, f, "GONE-1", nil)
			theirs := put(t, s, other, "THEIRS-1", &other.location.ID)
			for id, state := range map[int64]domain.ContractState{pending.ID: domain.ContractPendingRemoval, removed.ID: domain.ContractRemoved} {
				if err := s.SetDeviceState(ctx, id, state, store.BySystem("test")); err != nil {
					t.Fatal(err)
				}
			}
			for _, want := range []store.ContractedDevice{active, pending} {
				got, err := s.AccountEquipmentDevice(ctx, f.account.ID, want.ID)
				if err != nil || got.ID != want.ID || got.Serial != want.Serial || got.AccountID != f.account.ID {
					t.Errorf("device %s = %+v, %v", want.Serial, got, err)
				}
			}
			if got, _ := s.AccountEquipmentDevice(ctx, f.account.ID, pending.ID); got.State != domain.ContractPendingRemoval {
				t.Errorf("pending device's state = %s", got.State)
			}
			for name, id := range map[string]int64{"removed": removed.ID, "another account's": theirs.ID, "missing": 999999} {
				_, err := s.AccountEquipmentDevice(ctx, f.account.ID, id)
				code(t, name, err, domain.ENOTFOUND)
			}
		})
	}
}
