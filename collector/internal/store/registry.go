package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/meterline/meterline/shared/domain"
)

// UnassignedDevice is a device the agents read that no account holds yet:
// the back office's list of printers to attach.
type UnassignedDevice struct {
	ID        int64     `db:"id"`
	DeviceKey string    `db:"device_key"`
	Serial    string    `db:"serial"`
	Vendor    string    `db:"vendor"`
	Model     string    `db:"model"`
	Address   string    `db:"address"`
	AgentID   string    `db:"agent_id"`
	FirstSeen time.Time `db:"first_seen"`
	LastSeen  time.Time `db:"last_seen"`
}

// UnassignedDevices lists the devices not attached to an account, oldest
// first (index devices_unassigned).
func (s *Store) UnassignedDevices(ctx context.Context) ([]UnassignedDevice, error) {
	var devices []UnassignedDevice
	err := s.db.SelectContext(ctx, &devices, `SELECT id, device_key, serial, vendor, model, address, COALESCE(agent_id, '') AS agent_id, first_seen, last_seen
FROM devices WHERE account_id IS NULL ORDER BY first_seen, id`)
	if err != nil {
		return nil, fmt.Errorf("store: unassigned devices: %w", err)
	}
	for i := range devices {
		devices[i].FirstSeen, devices[i].LastSeen = devices[i].FirstSeen.UTC(), devices[i].LastSeen.UTC()
	}
	return devices, nil
}

// AttachDevice attaches an unassigned device to an account. A device that
// does not exist is ENOTFOUND; one already attached (to this account or
// another) is ECONFLICT: moving a printer between contracts is a decision
// of its own, not a side effect of attaching.
func (s *Store) AttachDevice(ctx context.Context, deviceID, accountID int64) error {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE devices SET account_id = ? WHERE id = ? AND account_id IS NULL`), accountID, deviceID)
	if err != nil {
		return fmt.Errorf("store: attach device %d: %w", deviceID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: attach device %d: %w", deviceID, err)
	} else if n == 1 {
		return nil
	}
	var current *int64
	err = s.db.GetContext(ctx, &current, s.db.Rebind(`SELECT account_id FROM devices WHERE id = ?`), deviceID)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Errorf(domain.ENOTFOUND, "device %d does not exist", deviceID)
	}
	if err != nil {
		return fmt.Errorf("store: attach device %d: read its account: %w", deviceID, err)
	}
	return domain.Errorf(domain.ECONFLICT, "device %d is already attached to account %d", deviceID, *current)
}
