package store_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// readsOf returns storetest reads of a total counter at t0 plus the hours.
func readsOf(totals map[int]int64) []storetest.Read {
	var out []storetest.Read
	for _, h := range slices.Sorted(maps.Keys(totals)) {
		out = append(out, storetest.Read{At: t0.Add(time.Duration(h) * time.Hour),
			Counters: []wire.Counter{{Kind: domain.CounterTotal, Value: totals[h]}}})
	}
	return out
}

// changesOf lists an entity's recorded changes as "field old>new by".
func changesOf(t *testing.T, s *store.Store, entity string, id int64) []string {
	t.Helper()
	changes, err := s.StateChanges(context.Background(), entity, id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range changes {
		by := "user"
		if c.BySystem != nil {
			by = *c.BySystem
		}
		old, new := "-", "-"
		if c.Old != nil {
			old = *c.Old
		}
		if c.New != nil {
			new = *c.New
		}
		out = append(out, fmt.Sprintf("%s %s>%s %s", c.Field, old, new, by))
	}
	return out
}

func wantChanges(t *testing.T, s *store.Store, entity string, id int64, want ...string) {
	t.Helper()
	if got := changesOf(t, s, entity, id); !slices.Equal(got, want) {
		t.Errorf("changes of %s %d:\n got  %q\n want %q", entity, id, got, want)
	}
}

// deviceByKey finds the devices of a key among every device (the list the
// portal shows).
func deviceByKey(t *testing.T, s *store.Store, key string) []store.DeviceSummary {
	t.Helper()
	all, err := s.Devices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []store.DeviceSummary
	for _, d := range all {
		if d.Key == key {
			out = append(out, d)
		}
	}
	return out
}

// TestRegisterAgent: registering an agent gives its account the devices
// it read before, merging a serial the account already has, in one
// transaction, every change recorded; again changes nothing; moving the
// agent takes its own devices along, never the account's.
func TestRegisterAgent(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			storetest.Seed(t, url,
				storetest.Device{Serial: "S1", Agent: "u1", Address: "h1", Reads: readsOf(map[int]int64{0: 10, 2: 30})},
				storetest.Device{Serial: "S2", Agent: "u1", Address: "h1", Reads: readsOf(map[int]int64{1: 5})},
				storetest.Device{MAC: "AA:BB", Agent: "u1", Address: "h2", Reads: readsOf(map[int]int64{1: 7})})
			s, ctx := open(t, url), context.Background()
			f, other := newFixture(t, s, "1"), newFixture(t, s, "2")
			by := store.ByUser(f.user.ID)
			// The account's own device of S1, under contract, not read yet.
			s1, err := s.PutConflictingDeviceUnderContract(ctx, store.ContractedDevice{Serial: "S1", ContractID: f.contract.ID}, by)
			if err != nil {
				t.Fatal(err)
			}
			agentS1, agentS2, agentMAC := deviceByKey(t, s, "sn:S1"), deviceByKey(t, s, "sn:S2"), deviceByKey(t, s, "mac:aa:bb")
			if len(agentS1) != 2 || len(agentS2) != 1 || len(agentMAC) != 1 {
				t.Fatalf("seeded devices: %d S1, %d S2, %d MAC", len(agentS1), len(agentS2), len(agentMAC))
			}
			srcS1 := agentS1[0].ID
			if srcS1 == s1.ID {
				srcS1 = agentS1[1].ID
			}

			if err := s.RegisterAgent(ctx, " u1 ", f.account.ID, by); err != nil {
				t.Fatal(err)
			}
			if acct, err := s.AgentAccount(ctx, "u1"); err != nil || acct == nil || *acct != f.account.ID {
				t.Errorf("AgentAccount = %v, %v", acct, err)
			}
			// S1 is one device, the account's, under contract, with u1's reads.
			if got := deviceByKey(t, s, "sn:S1"); len(got) != 1 || got[0].ID != s1.ID || got[0].Latest == nil ||
				!got[0].Latest.At.Equal(t0.Add(2*time.Hour)) || *got[0].Latest.Total != 30 || got[0].Address != "h1" {
				t.Errorf("S1 after registration: %+v", got)
			}
			if d, err := s.ContractedDevice(ctx, s1.ID); err != nil || d.State != domain.ContractActive {
				t.Errorf("S1 = %+v, %v; want still active under contract", d, err)
			}
			unconfirmed, err := s.UnconfirmedDevices(ctx, f.account.ID)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, u := range unconfirmed {
				keys = append(keys, u.Owner+"|"+u.Key)
			}
			if want := []string{fmt.Sprintf("acct:%d|sn:S2", f.account.ID), "agent:u1|mac:aa:bb"}; !slices.Equal(slices.Sorted(slices.Values(keys)), want) {
				t.Errorf("unconfirmed = %v, want %v", keys, want)
			}
			a := fmt.Sprint(f.account.ID)
			wantChanges(t, s, store.EntityAccount, f.account.ID, "agent ->u1 user")
			wantChanges(t, s, store.EntityDevice, srcS1, "owner agent:u1>acct:"+a+" user", fmt.Sprintf("merged_into ->%d user", s1.ID))
			wantChanges(t, s, store.EntityDevice, s1.ID, "state ->active user", "replenishment ->eligible user", fmt.Sprintf("merged_from ->%d user", srcS1))
			wantChanges(t, s, store.EntityDevice, agentS2[0].ID, "owner agent:u1>acct:"+a+" user", "state ->unconfirmed user")
			wantChanges(t, s, store.EntityDevice, agentMAC[0].ID, "account_id ->"+a+" user", "state ->unconfirmed user")

			// Again: nothing changes, nothing is recorded.
			if err := s.AssignAgent(ctx, "u1", f.account.ID); err != nil {
				t.Fatal(err)
			}
			wantChanges(t, s, store.EntityAccount, f.account.ID, "agent ->u1 user")
			wantChanges(t, s, store.EntityDevice, agentS2[0].ID, "owner agent:u1>acct:"+a+" user", "state ->unconfirmed user")

			// Moved to the other account: the account's S1 and S2 stay; the
			// agent's own MAC device follows it.
			if err := s.AssignAgent(ctx, "u1", other.account.ID); err != nil {
				t.Fatal(err)
			}
			wantChanges(t, s, store.EntityAccount, f.account.ID, "agent ->u1 user", "agent u1>- registration")
			wantChanges(t, s, store.EntityAccount, other.account.ID, "agent ->u1 registration")
			wantChanges(t, s, store.EntityDevice, agentMAC[0].ID, "account_id ->"+a+" user", "state ->unconfirmed user",
				fmt.Sprintf("account_id %s>%d registration", a, other.account.ID))
			if got, err := s.UnconfirmedDevices(ctx, f.account.ID); err != nil || len(got) != 1 || got[0].Key != "sn:S2" {
				t.Errorf("unconfirmed of the first account = %+v, %v; want S2 only", got, err)
			}

			for _, tc := range []struct {
				name, agent string
				account     int64
				by          store.Actor
				want        string
			}{
				{"no agent id", " ", f.account.ID, by, domain.EINVALID},
				{"no such account", "u1", 999999, by, domain.ENOTFOUND},
				{"no actor", "u1", f.account.ID, store.Actor{}, domain.EINVALID},
			} {
				code(t, tc.name, s.RegisterAgent(ctx, tc.agent, tc.account, tc.by), tc.want)
			}
		})
	}
}

// TestReviewDevices: the back office lists the unconfirmed devices and the
// serial conflicts, confirms a device (under a contract of its account:
// active, the audit showing it left 'unconfirmed') and rejects another
// (kept, out of the conflicts).
func TestReviewDevices(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			var devices []storetest.Device
			for _, serial := range []string{"S2", "S3", "S4"} {
				devices = append(devices, storetest.Device{Serial: serial, Agent: "u1", Reads: readsOf(map[int]int64{0: 1})})
			}
			devices = append(devices, storetest.Device{MAC: "AA:BB", Agent: "u1", Address: "h", Reads: readsOf(map[int]int64{0: 1})})
			storetest.Seed(t, url, devices...)
			s, ctx := open(t, url), context.Background()
			f, other := newFixture(t, s, "1"), newFixture(t, s, "2")
			by := store.ByUser(f.user.ID)
			if err := s.RegisterAgent(ctx, "u1", f.account.ID, store.BySystem("test")); err != nil {
				t.Fatal(err)
			}
			// The other account has S2 and S4 too: two conflicts.
			for _, serial := range []string{"S2", "S4"} {
				if _, err := s.PutConflictingDeviceUnderContract(ctx, store.ContractedDevice{Serial: serial, ContractID: other.contract.ID}, by); err != nil {
					t.Fatal(err)
				}
			}
			list, err := s.UnconfirmedDevices(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			ids := map[string]int64{}
			var got []string
			for _, u := range list {
				ids[u.Key] = u.ID
				got = append(got, fmt.Sprintf("%s %s conflict=%v", u.CustomerNumber, u.Key, u.Conflict))
				if u.LastReadAt.Time.IsZero() || u.AccountID != f.account.ID {
					t.Errorf("unconfirmed %s: %+v", u.Key, u)
				}
			}
			if want := "[1 mac:aa:bb conflict=false 1 sn:S2 conflict=true 1 sn:S3 conflict=false 1 sn:S4 conflict=true]"; fmt.Sprint(slices.Sorted(slices.Values(got))) != want {
				t.Errorf("unconfirmed = %v, want %s", got, want)
			}
			for _, u := range list {
				if one, err := s.UnconfirmedDevice(ctx, u.ID); err != nil || one != u {
					t.Errorf("UnconfirmedDevice(%d) = %+v, %v; want %+v", u.ID, one, err, u)
				}
			}
			_, err = s.UnconfirmedDevice(ctx, 999999)
			code(t, "UnconfirmedDevice of no device", err, domain.ENOTFOUND)
			conflicts := func() []string {
				t.Helper()
				cs, err := s.SerialConflicts(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, c := range cs {
					out = append(out, fmt.Sprintf("%s %s %s", c.DeviceKey, c.CustomerNumber, c.State.String))
				}
				return out
			}
			if got, want := conflicts(), []string{"sn:S2 1 unconfirmed", "sn:S2 2 active", "sn:S4 1 unconfirmed", "sn:S4 2 active"}; !slices.Equal(got, want) {
				t.Errorf("conflicts = %q, want %q", got, want)
			}

			// Confirm S2: under the account's contract, active.
			for _, tc := range []struct {
				name string
				id   int64
				d    store.ContractedDevice
				want string
			}{
				{"another account's contract", ids["sn:S2"], store.ContractedDevice{ContractID: other.contract.ID}, domain.EINVALID},
				{"a location of another account", ids["sn:S2"], store.ContractedDevice{ContractID: f.contract.ID, LocationID: &other.location.ID}, domain.EINVALID},
				{"no serial", ids["mac:aa:bb"], store.ContractedDevice{ContractID: f.contract.ID}, domain.EINVALID},
				{"no such device", 999999, store.ContractedDevice{ContractID: f.contract.ID}, domain.ENOTFOUND},
				{"no such contract", ids["sn:S2"], store.ContractedDevice{ContractID: 999999}, domain.ENOTFOUND},
			} {
				_, err := s.ConfirmDevice(ctx, tc.id, tc.d, by)
				code(t, tc.name, err, tc.want)
			}
			d, err := s.ConfirmDevice(ctx, ids["sn:S2"], store.ContractedDevice{ContractID: f.contract.ID, ProductCode: "MX1", LocationID: &f.location.ID}, by)
			if err != nil {
				t.Fatal(err)
			}
			if d.ID != ids["sn:S2"] || d.State != domain.ContractActive || d.ProductCode != "MX1" || d.AccountID != f.account.ID || *d.LocationID != f.location.ID {
				t.Errorf("confirmed = %+v", d)
			}
			if got, err := s.ContractedDevice(ctx, d.ID); err != nil || got.State != domain.ContractActive || got.ContractID != f.contract.ID {
				t.Errorf("ContractedDevice = %+v, %v", got, err)
			}
			wantChanges(t, s, store.EntityDevice, d.ID, "owner agent:u1>acct:"+fmt.Sprint(f.account.ID)+" test",
				"state ->unconfirmed test", "state unconfirmed>active user", "replenishment ->eligible user")
			_, err = s.ConfirmDevice(ctx, d.ID, store.ContractedDevice{ContractID: f.contract.ID}, by)
			code(t, "confirm twice", err, domain.ECONFLICT)
			_, err = s.UnconfirmedDevice(ctx, d.ID)
			code(t, "UnconfirmedDevice of a confirmed device", err, domain.ENOTFOUND)

			// S3 put under contract the usual way: the audit too says it was
			// unconfirmed.
			s3, err := s.PutDeviceUnderContract(ctx, store.ContractedDevice{Serial: "s3", ContractID: f.contract.ID}, by)
			if err != nil || s3.ID != ids["sn:S3"] {
				t.Fatalf("put S3 = %+v, %v; want the unconfirmed device", s3, err)
			}
			if got := changesOf(t, s, store.EntityDevice, s3.ID); len(got) < 3 || got[2] != "state unconfirmed>active user" {
				t.Errorf("S3 changes = %q, want state unconfirmed>active", got)
			}

			// Reject S4: kept, no longer a conflict; again changes nothing.
			for range 2 {
				if err := s.RejectDevice(ctx, ids["sn:S4"], by); err != nil {
					t.Fatal(err)
				}
			}
			wantChanges(t, s, store.EntityDevice, ids["sn:S4"], "owner agent:u1>acct:"+fmt.Sprint(f.account.ID)+" test",
				"state ->unconfirmed test", "state unconfirmed>rejected user")
			if got, want := conflicts(), []string{"sn:S2 1 active", "sn:S2 2 active"}; !slices.Equal(got, want) {
				t.Errorf("conflicts = %q, want %q", got, want)
			}
			if got := deviceByKey(t, s, "sn:S4"); len(got) != 2 {
				t.Errorf("S4 devices = %d, want 2 (the rejected one kept)", len(got))
			}
			code(t, "reject an active device", s.RejectDevice(ctx, d.ID, by), domain.ECONFLICT)
			code(t, "reject a missing device", s.RejectDevice(ctx, 999999, by), domain.ENOTFOUND)
			code(t, "reject without actor", s.RejectDevice(ctx, ids["mac:aa:bb"], store.Actor{}), domain.EINVALID)
			_, err = s.ConfirmDevice(ctx, ids["sn:S4"], store.ContractedDevice{ContractID: f.contract.ID}, by)
			code(t, "confirm a rejected device", err, domain.ECONFLICT)
			if got, err := s.UnconfirmedDevices(ctx, 0); err != nil || len(got) != 1 || got[0].Key != "mac:aa:bb" {
				t.Errorf("unconfirmed left = %+v, %v; want the MAC device", got, err)
			}
		})
	}
}
