package store

import (
	"context"
	"database/sql"
	"fmt"
)

// SerialConflict is a device of a serial that devices of other accounts
// have too: ingest keeps one device per account (wire.Owner), never
// merging them, and the back office decides whose the printer is.
type SerialConflict struct {
	DeviceKey string         `db:"device_key"`
	DeviceID  int64          `db:"id"`
	AccountID int64          `db:"account_id"`
	State     sql.NullString `db:"state"`
	AgentID   sql.NullString `db:"agent_id"`
}

// SerialConflicts lists the devices whose serial two or more accounts
// have, by serial key, account and device.
func (s *Store) SerialConflicts(ctx context.Context) ([]SerialConflict, error) {
	var out []SerialConflict
	err := s.db.SelectContext(ctx, &out, `SELECT d.device_key, d.id, d.account_id, d.state, d.agent_id
FROM devices d
WHERE d.account_id IS NOT NULL AND d.device_key IN (
    SELECT device_key FROM devices
    WHERE account_id IS NOT NULL AND device_key LIKE 'sn:%'
    GROUP BY device_key HAVING count(DISTINCT account_id) > 1)
ORDER BY d.device_key, d.account_id, d.id`)
	if err != nil {
		return nil, fmt.Errorf("store: serial conflicts: %w", err)
	}
	return out, nil
}
