package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/wire"
)

// ownedDevice is a device row as ownership sees it.
type ownedDevice struct {
	ID        int64   `db:"id"`
	Owner     string  `db:"owner"`
	Key       string  `db:"device_key"`
	AccountID *int64  `db:"account_id"`
	State     *string `db:"state"`
	Agent     string  `db:"agent_id"`
	Address   string  `db:"address"`
	LastTotal *int64  `db:"last_total"`
}

func (d ownedDevice) String() string {
	acct, state, total := "-", "-", "-"
	if d.AccountID != nil {
		acct = fmt.Sprint(*d.AccountID)
	}
	if d.State != nil {
		state = *d.State
	}
	if d.LastTotal != nil {
		total = fmt.Sprint(*d.LastTotal)
	}
	return fmt.Sprintf("%s|%s acct=%s state=%s agent=%s addr=%s total=%s", d.Owner, d.Key, acct, state, d.Agent, d.Address, total)
}

// ownershipFixture creates accounts A and B and registers agents to them:
// agents maps an agent to its account's name ("" leaves it unregistered).
func ownershipFixture(t *testing.T, s *Store, agents map[string]string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	accounts := map[string]int64{}
	for _, name := range []string{"A", "B"} {
		var id int64
		err := s.db.QueryRowxContext(ctx, s.db.Rebind(`INSERT INTO accounts (customer_number, name, created_at) VALUES (?, ?, ?) RETURNING id`),
			"C-"+name, name, receivedAt).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		accounts[name] = id
	}
	for agent, account := range agents {
		var acct any
		if account != "" {
			acct = accounts[account]
		}
		_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO agents (id, first_seen, last_seen, account_id) VALUES (?, ?, ?, ?)`),
			agent, receivedAt, receivedAt, acct)
		if err != nil {
			t.Fatal(err)
		}
	}
	return accounts
}

func ownedDevices(t *testing.T, s *Store) []ownedDevice {
	t.Helper()
	var out []ownedDevice
	err := s.db.SelectContext(context.Background(), &out, `SELECT id, owner, device_key, account_id, state, COALESCE(agent_id, '') AS agent_id, address, last_total
FROM devices ORDER BY device_key, owner`)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func deviceTotals(t *testing.T, s *Store, id int64) []int64 {
	t.Helper()
	var out []int64
	if err := s.db.SelectContext(context.Background(), &out, s.db.Rebind(`SELECT total FROM meter_reads WHERE device_id = ? ORDER BY read_at`), id); err != nil {
		t.Fatal(err)
	}
	return out
}

func readAt(serial, address string, at time.Time, total int64) wire.DeviceRead {
	r := read(serial, at, total)
	r.Address = address
	return r
}

func saveAll(t *testing.T, s *Store, batches ...wire.ReadBatch) {
	t.Helper()
	for _, b := range batches {
		results, err := s.SaveBatches(context.Background(), incoming(b))
		if err != nil {
			t.Fatal(err)
		}
		if results[0].Err != nil {
			t.Fatal(results[0].Err)
		}
	}
}

func wantDevices(t *testing.T, s *Store, want ...string) []ownedDevice {
	t.Helper()
	got := ownedDevices(t, s)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("devices:\n got  %v\n want %v", got, want)
	}
	return got
}

// TestForgedSerial is issue 14's case: an agent of another account sending
// a serial of account A, in another case and padded, lands on a device of
// its own account, unconfirmed; A's device, address and reads are
// untouched; both are listed as a conflict for the back office.
func TestForgedSerial(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			s := migratedStore(t, d)
			acct := ownershipFixture(t, s, map[string]string{"a1": "A", "b1": "B"})
			a, b := fmt.Sprint(acct["A"]), fmt.Sprint(acct["B"])
			saveAll(t, s, agentBatch("a1", 1, readAt("ABC123", "127.0.9.1:161", t0, 500)))
			saveAll(t, s, agentBatch("b1", 1, readAt("abc123 ", "127.0.9.9:161", t0.Add(time.Hour), 999_999)))
			got := wantDevices(t, s,
				"acct:"+a+"|sn:ABC123 acct="+a+" state=unconfirmed agent=a1 addr=127.0.9.1:161 total=500",
				"acct:"+b+"|sn:ABC123 acct="+b+" state=unconfirmed agent=b1 addr=127.0.9.9:161 total=999999")
			if len(got) != 2 {
				return
			}
			if totals := deviceTotals(t, s, got[0].ID); fmt.Sprint(totals) != "[500]" {
				t.Errorf("A's reads = %v, want [500]", totals)
			}
			if totals := deviceTotals(t, s, got[1].ID); fmt.Sprint(totals) != "[999999]" {
				t.Errorf("B's reads = %v, want [999999] (kept while unconfirmed)", totals)
			}
			conflicts, err := s.SerialConflicts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(conflicts) != 2 || conflicts[0].DeviceID != got[0].ID || conflicts[1].DeviceID != got[1].ID ||
				conflicts[0].AccountID != acct["A"] || conflicts[1].AccountID != acct["B"] || conflicts[0].DeviceKey != "sn:ABC123" {
				t.Errorf("conflicts = %+v, want A's and B's sn:ABC123", conflicts)
			}
		})
	}
}

// TestOwnership checks the other rules of ownership at ingest.
func TestOwnership(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Run("a registered device takes its account's reads and stays confirmed", func(t *testing.T) {
				s := migratedStore(t, d)
				acct := ownershipFixture(t, s, map[string]string{"a1": "A", "a2": "A"})
				a := fmt.Sprint(acct["A"])
				_, err := s.db.ExecContext(context.Background(), s.db.Rebind(`INSERT INTO devices (owner, device_key, serial, account_id, state, first_seen, last_seen)
VALUES (?, 'sn:REG1', 'REG1', ?, 'active', ?, ?)`), wire.AccountOwner(acct["A"]), acct["A"], receivedAt, receivedAt)
				if err != nil {
					t.Fatal(err)
				}
				// Two agents of the account share the account's devices.
				saveAll(t, s, agentBatch("a1", 1, readAt(" reg1", "h1", t0, 10), readAt("NEW1", "h1", t0, 5)),
					agentBatch("a2", 1, readAt("REG1", "h2", t0.Add(time.Hour), 11)))
				wantDevices(t, s,
					"acct:"+a+"|sn:NEW1 acct="+a+" state=unconfirmed agent=a1 addr=h1 total=5",
					"acct:"+a+"|sn:REG1 acct="+a+" state=active agent=a2 addr=h2 total=11")
				if c, err := s.SerialConflicts(context.Background()); err != nil || len(c) != 0 {
					t.Errorf("conflicts = %+v, %v; want none", c, err)
				}
			})
			t.Run("placeholder serials and MACs never merge across agents", func(t *testing.T) {
				s := migratedStore(t, d)
				acct := ownershipFixture(t, s, map[string]string{"a1": "A", "a2": "A", "b1": "B"})
				a, b := fmt.Sprint(acct["A"]), fmt.Sprint(acct["B"])
				mac := func(serial, m string, total int64) wire.DeviceRead {
					r := readAt(serial, "h", t0, total)
					r.MAC = m
					return r
				}
				saveAll(t, s,
					agentBatch("a1", 1, mac("000000", "AA:BB", 1), mac("N/A", "", 2)),
					agentBatch("a2", 1, mac("000000", "AA:BB", 3), mac("unknown", "", 4)),
					agentBatch("b1", 1, mac("", "AA:BB", 5)))
				wantDevices(t, s,
					"agent:a1|addr:a1/h acct="+a+" state=unconfirmed agent=a1 addr=h total=2",
					"agent:a2|addr:a2/h acct="+a+" state=unconfirmed agent=a2 addr=h total=4",
					"agent:a1|mac:aa:bb acct="+a+" state=unconfirmed agent=a1 addr=h total=1",
					"agent:a2|mac:aa:bb acct="+a+" state=unconfirmed agent=a2 addr=h total=3",
					"agent:b1|mac:aa:bb acct="+b+" state=unconfirmed agent=b1 addr=h total=5")
			})
			t.Run("agents of no account keep their own devices", func(t *testing.T) {
				s := migratedStore(t, d)
				ownershipFixture(t, s, map[string]string{"u1": ""})
				// u2 is not even known before its first batch.
				saveAll(t, s, agentBatch("u1", 1, readAt("XYZ9", "h1", t0, 7)),
					agentBatch("u2", 1, readAt("xyz9", "h2", t0, 8)),
					agentBatch("u1", 2, readAt("XYZ9", "h1", t0.Add(time.Hour), 9)))
				wantDevices(t, s,
					"agent:u1|sn:XYZ9 acct=- state=- agent=u1 addr=h1 total=9",
					"agent:u2|sn:XYZ9 acct=- state=- agent=u2 addr=h2 total=8")
				if c, err := s.SerialConflicts(context.Background()); err != nil || len(c) != 0 {
					t.Errorf("conflicts = %+v, %v; want none (no account)", c, err)
				}
			})
		})
	}
}

// TestMigrateOwnership applies migration 0008 to a database holding
// devices and reads: ids and reads are kept, a serial device of an account
// is the account's, every other device its agent's.
func TestMigrateOwnership(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, d)
			migrateBefore(t, s, 8)
			acct := ownershipFixture(t, s, map[string]string{"a1": "A", "u1": ""})
			for _, dev := range []struct {
				key, agent string
				account    any
			}{{"sn:S1", "a1", acct["A"]}, {"mac:aa", "a1", acct["A"]}, {"sn:S2", "u1", nil}} {
				var id int64
				err := s.db.QueryRowxContext(ctx, s.db.Rebind(`INSERT INTO devices (device_key, agent_id, account_id, first_seen, last_seen) VALUES (?, ?, ?, ?, ?) RETURNING id`),
					dev.key, dev.agent, dev.account, receivedAt, receivedAt).Scan(&id)
				if err != nil {
					t.Fatal(err)
				}
				_, err = s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO meter_reads (device_id, read_at, agent_id, seq, total, counters, supplies, stored_at) VALUES (?, ?, ?, 1, ?, '[]', '[]', ?)`),
					id, t0, dev.agent, id*100, receivedAt)
				if err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate to 0008: %v", err)
			}
			a := fmt.Sprint(acct["A"])
			for _, dev := range wantDevices(t, s,
				"agent:a1|mac:aa acct="+a+" state=- agent=a1 addr= total=-",
				"acct:"+a+"|sn:S1 acct="+a+" state=- agent=a1 addr= total=-",
				"agent:u1|sn:S2 acct=- state=- agent=u1 addr= total=-") {
				if totals := deviceTotals(t, s, dev.ID); fmt.Sprint(totals) != fmt.Sprintf("[%d]", dev.ID*100) {
					t.Errorf("device %d reads = %v, want [%d]", dev.ID, totals, dev.ID*100)
				}
			}
			// The same serial read by an agent of no account is now a device of
			// its own, no longer a unique key conflict.
			saveAll(t, s, agentBatch("b1", 1, readAt("S1", "h", t0, 1)))
			if n := len(ownedDevices(t, s)); n != 4 {
				t.Errorf("%d devices, want 4", n)
			}
		})
	}
}

// migrateBefore applies to s's empty database the migrations before
// version, recording them as applied, so that a test can fill the
// database as it was then and apply the rest.
func migrateBefore(t *testing.T, s *Store, version int) {
	t.Helper()
	ctx := context.Background()
	ms, err := schema.Migrations(s.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version >= version {
			break
		}
		if _, err := s.db.ExecContext(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO schema_migrations VALUES (?, ?, 'test')`), m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
}
