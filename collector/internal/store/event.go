package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/wire"
)

const insertEvent = `INSERT INTO events (agent_id, event_id, kind, device_key, at, message, payload, stored_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (agent_id, event_id) DO NOTHING`

// SaveEvent stores an agent's event once: an event re-sent with the same
// (agent, id) is ignored.
func (s *Store) SaveEvent(ctx context.Context, e wire.Event) error {
	if err := s.insertEvent(ctx, s.db, e); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// insertEvent stores an event through db or a transaction.
func (s *Store) insertEvent(ctx context.Context, exec sqlx.ExecerContext, e wire.Event) error {
	body, err := jsonText(e)
	if err != nil {
		return fmt.Errorf("save event %s of agent %s: %w", e.ID, e.AgentID, err)
	}
	_, err = exec.ExecContext(ctx, s.db.Rebind(insertEvent),
		text(e.AgentID), text(e.ID), text(string(e.Kind)), eventDeviceKey(e), dbTime(e.At),
		text(e.Message), body, dbTime(s.now()))
	if err != nil {
		return fmt.Errorf("save event %s of agent %s: %w", e.ID, e.AgentID, refused(err))
	}
	return nil
}

// eventDeviceKey names the device an event is about under the key its
// reads are stored by, or "" for an event about no device.
func eventDeviceKey(e wire.Event) string {
	if wire.NormalizeSerial(e.Serial) == "" && e.Address == "" {
		return ""
	}
	return text(wire.DeviceRead{Serial: e.Serial, Address: e.Address}.Key(e.AgentID))
}
