package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Meters are the billing meters of one agent read; nil: the device does
// not report that meter.
type Meters struct {
	At     time.Time `db:"at"`
	Total  *int64    `db:"total"`
	Black  *int64    `db:"black"`
	Colour *int64    `db:"colour"`
}

// AddReads files agent reads of an existing device (one under contract,
// say) as the collector does for reads arriving in time order: the
// meter_reads rows (counters promoted, no supplies), the counter resets
// they reveal (a meter lower than in the device's read before it) and
// the device's latest read. It is how the billing tests and the billing
// bench feed the portal what agents report.
func AddReads(ctx context.Context, db *sqlx.DB, deviceID int64, agent string, reads ...Meters) error {
	return AddDeviceReads(ctx, db, DeviceReads{DeviceID: deviceID, Agent: agent, Reads: reads})
}

// DeviceReads are reads of one device by one agent.
type DeviceReads struct {
	DeviceID int64
	Agent    string
	Reads    []Meters
}

// AddDeviceReads files the reads of several devices as AddReads does, in
// one transaction.
func AddDeviceReads(ctx context.Context, db *sqlx.DB, devices ...DeviceReads) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, d := range devices {
		if err := addReads(ctx, tx, d.DeviceID, d.Agent, d.Reads); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func addReads(ctx context.Context, tx *sqlx.Tx, deviceID int64, agent string, reads []Meters) error {
	now := time.Now().UTC()
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO agents (id, version, online, first_seen, last_seen)
VALUES (?, 'test', ?, ?, ?) ON CONFLICT (id) DO NOTHING`), agent, true, now, now); err != nil {
		return fmt.Errorf("insert agent %s: %w", agent, err)
	}
	for _, r := range reads {
		at := r.At.UTC()
		var before []Meters
		if err := tx.SelectContext(ctx, &before, tx.Rebind(`SELECT read_at AS at, total, black, colour FROM meter_reads
WHERE device_id = ? AND read_at < ? AND NOT clock_ahead ORDER BY read_at DESC LIMIT 1`), deviceID, at); err != nil {
			return fmt.Errorf("read before %s: %w", at, err)
		}
		// The batch sequence number: any increasing number will do here.
		seq := at.UnixMicro()
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO meter_reads
(device_id, read_at, agent_id, seq, total, black, colour, counters, supplies, stored_at)
VALUES (?, ?, ?, ?, ?, ?, ?, '[]', '[]', ?)`), deviceID, at, agent, seq, r.Total, r.Black, r.Colour, at); err != nil {
			return fmt.Errorf("insert read %s: %w", at, err)
		}
		if len(before) == 1 {
			b := before[0]
			for _, k := range []struct {
				kind      string
				prev, cur *int64
			}{{"total", b.Total, r.Total}, {"black", b.Black, r.Black}, {"colour", b.Colour, r.Colour}} {
				if k.prev == nil || k.cur == nil || *k.cur >= *k.prev {
					continue
				}
				if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO counter_resets
(device_id, kind, previous_value, previous_read_at, value, read_at, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
					deviceID, k.kind, *k.prev, b.At.UTC(), *k.cur, at, at); err != nil {
					return fmt.Errorf("insert the reset of %s at %s: %w", k.kind, at, err)
				}
			}
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE devices SET agent_id = ?, last_read_at = ?, last_seen = ?,
    last_total = ?, last_black = ?, last_colour = ?
WHERE id = ? AND (last_read_at IS NULL OR last_read_at < ?)`), agent, at, at, r.Total, r.Black, r.Colour, deviceID, at); err != nil {
			return fmt.Errorf("update device %d: %w", deviceID, err)
		}
	}
	return nil
}
