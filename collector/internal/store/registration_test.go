package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/ownership"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/wire"
)

// register registers the agent to the account as the portal does (the
// agent row set, then its devices moved, in one transaction) and returns
// the changes, as "device field old>new".
func register(t *testing.T, s *Store, agentID string, accountID int64) []string {
	t.Helper()
	ctx := context.Background()
	var changes []ownership.Change
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE agents SET account_id = ? WHERE id = ?`), accountID, agentID); err != nil {
			return err
		}
		var err error
		changes, err = ownership.MoveAgentDevices(ctx, tx, s.dialect, agentID, accountID, s.now())
		return err
	})
	if err != nil {
		t.Fatalf("register %s to %d: %v", agentID, accountID, err)
	}
	var out []string
	for _, c := range changes {
		out = append(out, fmt.Sprintf("%d %s %s>%s", c.DeviceID, c.Field, deref(c.Old), deref(c.New)))
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

// deviceResets lists a device's counter resets as "kind previous@time>value@time".
func deviceResets(t *testing.T, s *Store, id int64) []string {
	t.Helper()
	var rows []struct {
		Kind           string    `db:"kind"`
		PreviousValue  int64     `db:"previous_value"`
		PreviousReadAt time.Time `db:"previous_read_at"`
		Value          int64     `db:"value"`
		ReadAt         time.Time `db:"read_at"`
	}
	err := s.db.SelectContext(context.Background(), &rows, s.db.Rebind(`SELECT kind, previous_value, previous_read_at, value, read_at
FROM counter_resets WHERE device_id = ? ORDER BY kind, read_at`), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %d@%s>%d@%s", r.Kind, r.PreviousValue, r.PreviousReadAt.UTC().Format("15:04"), r.Value, r.ReadAt.UTC().Format("15:04")))
	}
	return out
}

func eventOwners(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := s.db.SelectContext(context.Background(), &out, `SELECT event_id || ' ' || owner || '|' || device_key FROM events ORDER BY event_id`)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRegistrationMovesAgentDevices: an agent that read devices while
// registered to no account is registered to account A. Its serial device
// A has too is merged into A's (reads moved, the read of a time A already
// has dropped, resets detected anew, the latest read the newest); its
// other serial device becomes A's, unconfirmed; its MAC device stays its
// own, attached to A; its events follow. Registering again changes
// nothing, and the agent's next reads land on A's devices, nothing
// duplicated.
func TestRegistrationMovesAgentDevices(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s := migratedStore(t, d)
			acct := ownershipFixture(t, s, map[string]string{"a1": "A", "u1": ""})
			a := fmt.Sprint(acct["A"])
			h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
			mac := readAt("", "h3", h(1), 7)
			mac.MAC = "AA:BB"
			saveAll(t, s,
				agentBatch("a1", 1, readAt("S1", "h1", h(0), 100), readAt("S1", "h1", h(2), 300)),
				// u1's S1: 50 (a reset after A's 100), 999 at a time A has a
				// read of, then 400 (a reset after u1's own 999, which the
				// merged history no longer has).
				agentBatch("u1", 1, readAt("s1 ", "h2", h(1), 50), readAt("S1", "h2", h(2), 999), readAt("S1", "h2", h(3), 400),
					readAt("S2", "h2", h(1), 20), mac))
			if err := s.SaveEvent(ctx, wire.Event{Schema: 1, AgentID: "u1", ID: "ev-u1", At: h(3), Kind: domain.EventTonerLow, Serial: "S1"}); err != nil {
				t.Fatal(err)
			}
			before := wantDevices(t, s,
				"agent:u1|mac:aa:bb acct=- state=- agent=u1 addr=h3 total=7",
				"acct:"+a+"|sn:S1 acct="+a+" state=unconfirmed agent=a1 addr=h1 total=300",
				"agent:u1|sn:S1 acct=- state=- agent=u1 addr=h2 total=400",
				"agent:u1|sn:S2 acct=- state=- agent=u1 addr=h2 total=20")
			if got := deviceResets(t, s, before[2].ID); fmt.Sprint(got) != "[total 999@00:00>400@01:00]" {
				t.Errorf("u1's S1 resets before = %v, want its own 999>400", got)
			}
			mainID, macID, srcID, s2ID := before[1].ID, before[0].ID, before[2].ID, before[3].ID

			changes := register(t, s, "u1", acct["A"])
			want := []string{
				fmt.Sprintf("%d owner agent:u1>acct:%s", srcID, a),
				fmt.Sprintf("%d merged_into ->%d", srcID, mainID),
				fmt.Sprintf("%d merged_from ->%d", mainID, srcID),
				fmt.Sprintf("%d owner agent:u1>acct:%s", s2ID, a),
				fmt.Sprintf("%d state ->unconfirmed", s2ID),
				fmt.Sprintf("%d account_id ->%s", macID, a),
				fmt.Sprintf("%d state ->unconfirmed", macID),
			}
			if !slices.Equal(changes, want) {
				t.Errorf("changes:\n got  %q\n want %q", changes, want)
			}
			wantDevices(t, s,
				"agent:u1|mac:aa:bb acct="+a+" state=unconfirmed agent=u1 addr=h3 total=7",
				"acct:"+a+"|sn:S1 acct="+a+" state=unconfirmed agent=u1 addr=h2 total=400",
				"acct:"+a+"|sn:S2 acct="+a+" state=unconfirmed agent=u1 addr=h2 total=20")
			if got := deviceTotals(t, s, mainID); fmt.Sprint(got) != "[100 50 300 400]" {
				t.Errorf("A's S1 reads = %v, want [100 50 300 400] (A's read of 02:00 kept)", got)
			}
			var lastReadAt time.Time
			if err := s.db.GetContext(ctx, &lastReadAt, s.db.Rebind(`SELECT last_read_at FROM devices WHERE id = ?`), mainID); err != nil || !lastReadAt.Equal(h(3)) {
				t.Errorf("A's S1 last read at %v, %v; want %v", lastReadAt, err, h(3))
			}
			if got := deviceResets(t, s, mainID); fmt.Sprint(got) != "[total 100@22:00>50@23:00]" {
				t.Errorf("A's S1 resets = %v, want only 100>50 at 23:00", got)
			}
			if got := deviceResets(t, s, srcID); len(got) != 0 {
				t.Errorf("resets left on the merged device: %v", got)
			}
			if got := eventOwners(t, s); fmt.Sprint(got) != "[ev-u1 acct:"+a+"|sn:S1]" {
				t.Errorf("events = %v, want u1's event of S1 on A's device", got)
			}

			if again := register(t, s, "u1", acct["A"]); len(again) != 0 {
				t.Errorf("registering again changed %q", again)
			}
			c := mustCount(t, s)
			saveAll(t, s, agentBatch("u1", 2, readAt("S1", "h2", h(4), 410), readAt("S2", "h2", h(4), 30)))
			after := mustCount(t, s)
			if after.Devices != c.Devices || after.Reads != c.Reads+2 {
				t.Errorf("after the next batch: %d devices, %d reads; want %d and %d", after.Devices, after.Reads, c.Devices, c.Reads+2)
			}
			if got := deviceTotals(t, s, mainID); fmt.Sprint(got) != "[100 50 300 400 410]" {
				t.Errorf("A's S1 reads = %v, want the new read on it", got)
			}
			if err := s.SaveEvent(ctx, wire.Event{Schema: 1, AgentID: "u1", ID: "ev-u1-2", At: h(4), Kind: domain.EventTonerLow, Serial: "s1"}); err != nil {
				t.Fatal(err)
			}
			if got := eventOwners(t, s); fmt.Sprint(got) != "[ev-u1 acct:"+a+"|sn:S1 ev-u1-2 acct:"+a+"|sn:S1]" {
				t.Errorf("events = %v, want both on A's S1", got)
			}
		})
	}
}

// TestRegistrationMovesToAnotherAccount: an agent moved from A to B takes
// no device of A's; a serial device it owns (read before it was first
// registered, never moved) goes to B.
func TestRegistrationMovesToAnotherAccount(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			s := migratedStore(t, d)
			acct := ownershipFixture(t, s, map[string]string{"x1": "A"})
			a, b := fmt.Sprint(acct["A"]), fmt.Sprint(acct["B"])
			saveAll(t, s, agentBatch("x1", 1, readAt("S1", "h", t0, 1)))
			// A device of x1's own serial left from before registrations moved
			// devices.
			_, err := s.db.ExecContext(context.Background(), s.db.Rebind(`INSERT INTO devices (owner, device_key, serial, agent_id, first_seen, last_seen) VALUES ('agent:x1', 'sn:OLD', 'OLD', 'x1', ?, ?)`), receivedAt, receivedAt)
			if err != nil {
				t.Fatal(err)
			}
			register(t, s, "x1", acct["B"])
			wantDevices(t, s,
				"acct:"+b+"|sn:OLD acct="+b+" state=unconfirmed agent=x1 addr= total=-",
				"acct:"+a+"|sn:S1 acct="+a+" state=unconfirmed agent=x1 addr=h total=1")
		})
	}
}

// TestDeviceReferences: every table with a foreign key to devices is one
// a merge re-points (ownership.DeviceReferences).
func TestDeviceReferences(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			s := migratedStore(t, d)
			var tables []string
			q := `SELECT DISTINCT m.name FROM sqlite_master m, pragma_foreign_key_list(m.name) f
WHERE m.type = 'table' AND f."table" = 'devices' ORDER BY 1`
			if s.Dialect() == schema.Postgres {
				q = `SELECT DISTINCT c.conrelid::regclass::text FROM pg_constraint c
JOIN pg_class r ON r.oid = c.conrelid
WHERE c.contype = 'f' AND c.confrelid = 'devices'::regclass AND NOT r.relispartition ORDER BY 1`
			}
			if err := s.db.SelectContext(context.Background(), &tables, q); err != nil {
				t.Fatal(err)
			}
			want := slices.Sorted(slices.Values(ownership.DeviceReferences))
			if !slices.Equal(tables, want) {
				t.Errorf("tables referencing devices: %v; ownership.DeviceReferences: %v", tables, want)
			}
		})
	}
}

// TestEventsScopedByOwner: two accounts' agents reporting an event of the
// same serial store it against each account's device, and an agent of no
// account against its own.
func TestEventsScopedByOwner(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s := migratedStore(t, d)
			acct := ownershipFixture(t, s, map[string]string{"a1": "A", "b1": "B"})
			for _, e := range []wire.Event{
				{AgentID: "a1", ID: "1", Serial: "ABC123"},
				{AgentID: "b1", ID: "2", Serial: "abc123 "},
				{AgentID: "u9", ID: "3", Serial: "ABC123"},
				{AgentID: "a1", ID: "4"},
				{AgentID: "a1", ID: "5", Serial: "N/A", Address: "h"},
			} {
				e.Schema, e.At, e.Kind = 1, t0, domain.EventTonerLow
				if err := s.SaveEvent(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			want := []string{
				"1 acct:" + fmt.Sprint(acct["A"]) + "|sn:ABC123",
				"2 acct:" + fmt.Sprint(acct["B"]) + "|sn:ABC123",
				"3 agent:u9|sn:ABC123",
				"4 |",
				"5 agent:a1|addr:a1/h",
			}
			if got := eventOwners(t, s); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("events:\n got  %q\n want %q", got, want)
			}
		})
	}
}

// TestMigrateReviewAndEventOwners applies migration 0011 to a database
// holding devices, reads, resets and events: devices keep their ids,
// reads and resets (SQLite rebuilds the table), may be rejected, and
// events of a device take its owner.
func TestMigrateReviewAndEventOwners(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, d)
			migrateBefore(t, s, 11)
			s.now = func() time.Time { return receivedAt }
			acct := ownershipFixture(t, s, map[string]string{"a1": "A", "u1": ""})
			saveAll(t, s, agentBatch("a1", 1, readAt("S1", "h", t0, 10), readAt("S1", "h", t0.Add(time.Hour), 5)),
				agentBatch("u1", 1, readAt("S1", "h", t0, 7)))
			for i, agent := range []string{"a1", "u1", "a1"} {
				serial := "S1"
				if i == 2 {
					serial = ""
				}
				_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO events (agent_id, event_id, kind, device_key, at, payload, stored_at) VALUES (?, ?, 'toner_low', ?, ?, '{}', ?)`),
					agent, fmt.Sprint(i), eventDeviceKey(wire.Event{AgentID: agent, Serial: serial}), t0, receivedAt)
				if err != nil {
					t.Fatal(err)
				}
			}
			devicesBefore := ownedDevices(t, s)
			if _, err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate to 0011: %v", err)
			}
			devicesAfter := ownedDevices(t, s)
			if fmt.Sprint(devicesAfter) != fmt.Sprint(devicesBefore) || devicesAfter[0].ID != devicesBefore[0].ID || devicesAfter[1].ID != devicesBefore[1].ID {
				t.Errorf("devices after 0011: %v, want %v", devicesAfter, devicesBefore)
			}
			if got := deviceTotals(t, s, devicesAfter[0].ID); fmt.Sprint(got) != "[10 5]" {
				t.Errorf("reads = %v", got)
			}
			if got := deviceResets(t, s, devicesAfter[0].ID); len(got) != 1 {
				t.Errorf("resets = %v, want one", got)
			}
			want := "[0 acct:" + fmt.Sprint(acct["A"]) + "|sn:S1 1 agent:u1|sn:S1 2 |]"
			if got := eventOwners(t, s); fmt.Sprint(got) != want {
				t.Errorf("events = %v, want %s", got, want)
			}
			if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE devices SET state = 'rejected' WHERE id = ?`), devicesAfter[0].ID); err != nil {
				t.Errorf("reject a device: %v", err)
			}
			if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE devices SET state = 'lost' WHERE id = ?`), devicesAfter[0].ID); err == nil {
				t.Error("a state outside the CHECK was accepted")
			}
		})
	}
}

// TestRejectedDeviceStaysRejected: reads of a device the back office
// rejected are kept on it; they neither re-create nor re-activate it.
func TestRejectedDeviceStaysRejected(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			s := migratedStore(t, d)
			acct := ownershipFixture(t, s, map[string]string{"b1": "B"})
			b := fmt.Sprint(acct["B"])
			saveAll(t, s, agentBatch("b1", 1, readAt("ABC123", "h", t0, 1)))
			if _, err := s.db.ExecContext(context.Background(), `UPDATE devices SET state = 'rejected'`); err != nil {
				t.Fatal(err)
			}
			saveAll(t, s, agentBatch("b1", 2, readAt("abc123", "h", t0.Add(time.Hour), 2)))
			got := wantDevices(t, s, "acct:"+b+"|sn:ABC123 acct="+b+" state=rejected agent=b1 addr=h total=2")
			if len(got) == 1 {
				if totals := deviceTotals(t, s, got[0].ID); fmt.Sprint(totals) != "[1 2]" {
					t.Errorf("reads = %v, want [1 2]", totals)
				}
			}
		})
	}
}

// TestRegistrationDuringIngest: batches of an agent stored while it is
// being registered either come before the move (their devices are moved)
// or after it (they read the new account): no serial device is left the
// agent's, and every read is stored once.
func TestRegistrationDuringIngest(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			s := migratedStore(t, d)
			acct := ownershipFixture(t, s, map[string]string{"u1": ""})
			const batches = 40
			done := make(chan error, 1)
			go func() {
				for seq := range batches {
					serial := fmt.Sprintf("S%d", seq%7) // some serials again, some new
					b := agentBatch("u1", uint64(seq+1), readAt(serial, "h", t0.Add(time.Duration(seq)*time.Minute), int64(seq)))
					results, err := s.SaveBatches(context.Background(), incoming(b))
					if err == nil {
						err = results[0].Err
					}
					if err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			register(t, s, "u1", acct["A"])
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			var left int
			if err := s.db.GetContext(context.Background(), &left, `SELECT count(*) FROM devices WHERE owner = 'agent:u1' AND device_key LIKE 'sn:%'`); err != nil {
				t.Fatal(err)
			}
			if c := mustCount(t, s); left != 0 || c.Reads != batches || c.Devices != 7 {
				t.Errorf("%d serial devices left to the agent, %d reads, %d devices; want 0, %d, 7", left, c.Reads, c.Devices, batches)
			}
		})
	}
}
