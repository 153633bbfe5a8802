package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/wire"
)

const insertEvent = `INSERT INTO events (agent_id, event_id, kind, owner, device_key, at, message, payload, stored_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (agent_id, event_id) DO NOTHING`

// SaveEvent stores an agent's event once: an event re-sent with the same
// (agent, id) is ignored.
func (s *Store) SaveEvent(ctx context.Context, e wire.Event) error {
	// In a transaction: the agent's account read for the owner holds
	// until the event is stored, so a registration moving the agent's
	// devices (and events) comes wholly before or after it.
	if err := s.inTx(ctx, func(tx *sqlx.Tx) error { return s.insertEvent(ctx, tx, e) }); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// insertEvent stores an event through db or a transaction.
func (s *Store) insertEvent(ctx context.Context, q sqlx.ExtContext, e wire.Event) error {
	body, err := jsonText(e)
	if err != nil {
		return fmt.Errorf("save event %s of agent %s: %w", e.ID, e.AgentID, err)
	}
	key := eventDeviceKey(e)
	owner, err := s.eventOwner(ctx, q, text(e.AgentID), key)
	if err != nil {
		return fmt.Errorf("save event %s of agent %s: %w", e.ID, e.AgentID, err)
	}
	_, err = q.ExecContext(ctx, s.db.Rebind(insertEvent),
		text(e.AgentID), text(e.ID), text(string(e.Kind)), owner, key, dbTime(e.At),
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

// eventOwner is the owner of the device key (see wire.Owner) as the
// agent's reads have it now, so that an event names the device its reads
// are of: the same serial under two accounts is two devices, and their
// events are apart too. "" for an event about no device.
func (s *Store) eventOwner(ctx context.Context, q sqlx.QueryerContext, agentID, key string) (string, error) {
	if key == "" {
		return "", nil
	}
	var account sql.NullInt64
	lock := ""
	if s.dialect == schema.Postgres {
		lock = " FOR SHARE"
	}
	err := q.QueryRowxContext(ctx, s.db.Rebind(`SELECT account_id FROM agents WHERE id = ?`+lock), agentID).Scan(&account)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read the agent's account: %w", err)
	}
	return wire.Owner(key, agentID, account.Int64), nil
}
