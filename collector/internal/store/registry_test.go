package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
)

// TestUnknownDevicesWaitForAnAccount checks the registry's life of a
// device: created unassigned by its first read, listed for the back
// office, attached once.
func TestUnknownDevicesWaitForAnAccount(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			s := migratedStore(t, d)
			ctx := context.Background()
			if _, err := s.SaveBatches(ctx, incoming(agentBatch("agent-1", 1, read("A", t0, 10), read("B", t0.Add(time.Minute), 20)))); err != nil {
				t.Fatal(err)
			}
			list, err := s.UnassignedDevices(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || list[0].Serial != "A" || list[1].Serial != "B" || list[0].AgentID != "agent-1" || !list[0].FirstSeen.Equal(t0) {
				t.Fatalf("unassigned = %+v, want A then B of agent-1", list)
			}
			if err := s.AttachDevice(ctx, list[0].ID, 42); err != nil {
				t.Fatalf("attach: %v", err)
			}
			if err := s.AttachDevice(ctx, list[0].ID, 43); domain.ErrorCode(err) != domain.ECONFLICT {
				t.Errorf("attach again = %v, want %s", err, domain.ECONFLICT)
			}
			if err := s.AttachDevice(ctx, 999999, 42); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("attach a missing device = %v, want %s", err, domain.ENOTFOUND)
			}
			if list, err := s.UnassignedDevices(ctx); err != nil || len(list) != 1 || list[0].Serial != "B" {
				t.Errorf("unassigned after attaching A = %+v, %v; want B", list, err)
			}
			// A new read of an attached device keeps its account.
			if _, err := s.SaveBatches(ctx, incoming(agentBatch("agent-1", 2, read("A", t0.Add(time.Hour), 11)))); err != nil {
				t.Fatal(err)
			}
			var account int64
			if err := s.db.Get(&account, `SELECT account_id FROM devices WHERE serial = 'A'`); err != nil || account != 42 {
				t.Errorf("account of A after a new read = %d, %v; want 42", account, err)
			}
		})
	}
}

// TestAttachDeviceReportsDatabaseErrors: only a device that is not there
// is ENOTFOUND; a database that fails while AttachDevice looks the device
// up says so, wrapped, so the back office does not tell an operator that a
// printer it lists does not exist.
func TestAttachDeviceReportsDatabaseErrors(t *testing.T) {
	s := migratedStore(t, dialects[0]) // SQLite: a column keeps a value of another type
	ctx := context.Background()
	if _, err := s.SaveBatches(ctx, incoming(agentBatch("agent-1", 1, read("A", t0, 10)))); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := s.db.Get(&id, `SELECT id FROM devices WHERE serial = 'A'`); err != nil {
		t.Fatal(err)
	}
	// An account id that cannot be read back as a number: the device is
	// attached, and reading whose it is fails.
	if _, err := s.db.Exec(`UPDATE devices SET account_id = 'not a number' WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	err := s.AttachDevice(ctx, id, 42)
	if err == nil || domain.ErrorCode(err) == domain.ENOTFOUND || domain.ErrorCode(err) == domain.ECONFLICT {
		t.Fatalf("attach when reading the device fails = %v (code %q), want the database error", err, domain.ErrorCode(err))
	}
	if !strings.Contains(err.Error(), "not a number") {
		t.Errorf("attach error %v does not carry the database's", err)
	}
}
