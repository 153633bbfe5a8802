package ownership

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/wire"
)

// DeviceReferences are the tables whose rows name a device by devices.id:
// a device merged into another has every one of them re-pointed. A test
// of each store compares it with the schema's foreign keys, so a table
// added later cannot be forgotten here. (events name a device by owner
// and key: MoveAgentDevices re-owns them.)
var DeviceReferences = append([]string{"meter_reads", "counter_resets", "customer_request_devices"}, accountOnlyReferences...)

// accountOnlyReferences name only devices under an account's contract
// (billing reads, read campaigns, automation requests, the back office's
// extra reads, opening reads), never a device an agent alone owns: a merge moves them as
// they are, should one exist.
var accountOnlyReferences = []string{"billing_reads", "read_campaigns", "read_automation_requests", "poll_requests", "opening_reads"}

// Change is one field of a device a move changed, for the caller to
// record (state_changes) with who made it.
type Change struct {
	DeviceID int64
	Field    string
	Old, New *string
}

// Fields a move changes.
const (
	FieldOwner      = "owner"
	FieldState      = "state"
	FieldAccount    = "account_id"
	FieldMergedInto = "merged_into"
	FieldMergedFrom = "merged_from"
)

// unconfirmed is the state of a device an account's agent reported that
// the account has not registered.
const unconfirmed = string(domain.DeviceUnconfirmed)

// MoveAgentDevices gives the account an agent is now registered to the
// devices the agent read while it belonged to no account (or to another),
// as ingest would have filed their reads had the agent been the
// account's then (wire.Owner), and returns what it changed:
//
//   - A serial-keyed device the agent owns (owner "agent:<id>", key
//     "sn:…") becomes the account's (owner "acct:<id>", account_id set),
//     'unconfirmed' when it had no state. When the account already has a
//     device of that serial, the agent's is merged into it: its reads move
//     there (a read of the same time already there wins), with every other
//     row that names it (DeviceReferences); the account's device keeps its
//     identity, and its latest read is recomputed (the newest read on
//     time) with its counter resets; the agent's row is deleted.
//   - A device keyed by MAC, address or placeholder serial stays the
//     agent's (no other agent reaches it), and follows the agent to the
//     account, 'unconfirmed', unless the back office already decided on it.
//   - The agent's events of serial devices are re-owned likewise.
//
// It must run in tx, after the agent row has been locked and set to the
// account (see the portal's RegisterAgent), so that a batch of the agent's
// the collector is storing meanwhile either comes before (its devices are
// then moved) or after (it reads the new account). Running it again
// changes nothing. now stamps the counter resets it detects.
func MoveAgentDevices(ctx context.Context, tx Tx, d schema.Dialect, agentID string, accountID int64, now time.Time) ([]Change, error) {
	m := mover{tx: tx, d: d, agentOwner: "agent:" + agentID, accountOwner: wire.AccountOwner(accountID), accountID: accountID, now: now.UTC()}
	if err := m.moveSerialDevices(ctx); err != nil {
		return nil, fmt.Errorf("move the devices of agent %s to account %d: %w", agentID, accountID, err)
	}
	if err := m.followAgent(ctx); err != nil {
		return nil, fmt.Errorf("move the devices of agent %s to account %d: %w", agentID, accountID, err)
	}
	_, err := tx.ExecContext(ctx, schema.Rebind(d, `UPDATE events SET owner = ? WHERE owner = ? AND device_key LIKE 'sn:%'`),
		m.accountOwner, m.agentOwner)
	if err != nil {
		return nil, fmt.Errorf("move the events of agent %s to account %d: %w", agentID, accountID, err)
	}
	return m.changes, nil
}

type mover struct {
	tx                       Tx
	d                        schema.Dialect
	agentOwner, accountOwner string
	accountID                int64
	now                      time.Time
	changes                  []Change
}

func (m *mover) q(query string) string { return schema.Rebind(m.d, query) }

func (m *mover) change(id int64, field string, old, new *string) {
	m.changes = append(m.changes, Change{DeviceID: id, Field: field, Old: old, New: new})
}

func strp(s string) *string { return &s }

// ownedDevice is a device row as a move reads it.
type ownedDevice struct {
	id                                   int64
	key                                  string
	state                                sql.NullString
	serial, mac, vendor, model, firmware string
	address                              string
	agentID                              sql.NullString
	firstSeen, lastSeen                  time.Time
	lastReadAt                           sql.NullTime
	lastTotal, lastBlack, lastColour     sql.NullInt64
}

const ownedColumns = `id, device_key, state, serial, mac, vendor, model, firmware, address, agent_id, first_seen, last_seen, last_read_at`

func scanOwned(scan func(...any) error) (ownedDevice, error) {
	var o ownedDevice
	err := scan(&o.id, &o.key, &o.state, &o.serial, &o.mac, &o.vendor, &o.model, &o.firmware, &o.address, &o.agentID, &o.firstSeen, &o.lastSeen, &o.lastReadAt)
	return o, err
}

// moveSerialDevices moves or merges the agent's serial-keyed devices, in
// key order (the order ingest locks devices in).
func (m *mover) moveSerialDevices(ctx context.Context) error {
	owned, err := m.agentSerialDevices(ctx)
	if err != nil {
		return fmt.Errorf("read the agent's devices: %w", err)
	}
	for _, src := range owned {
		dst, err := scanOwned(m.tx.QueryRowContext(ctx, m.q(`SELECT `+ownedColumns+` FROM devices
WHERE owner = ? AND device_key = ?`+forUpdate(m.d)), m.accountOwner, src.key).Scan)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			err = m.give(ctx, src)
		case err == nil:
			err = m.merge(ctx, src, dst)
		}
		if err != nil {
			return fmt.Errorf("device %d (%s): %w", src.id, src.key, err)
		}
	}
	return nil
}

// agentSerialDevices reads and locks the agent's serial-keyed devices.
func (m *mover) agentSerialDevices(ctx context.Context) ([]ownedDevice, error) {
	rows, err := m.tx.QueryContext(ctx, m.q(`SELECT `+ownedColumns+` FROM devices
WHERE owner = ? AND device_key LIKE 'sn:%' ORDER BY device_key`+forUpdate(m.d)), m.agentOwner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var owned []ownedDevice
	for rows.Next() {
		o, err := scanOwned(rows.Scan)
		if err != nil {
			return nil, err
		}
		owned = append(owned, o)
	}
	return owned, rows.Err()
}

// give makes src, a device the account has no device of its serial for,
// the account's.
func (m *mover) give(ctx context.Context, src ownedDevice) error {
	if _, err := m.tx.ExecContext(ctx, m.q(`UPDATE devices SET owner = ?, account_id = ?, state = COALESCE(state, ?) WHERE id = ?`),
		m.accountOwner, m.accountID, unconfirmed, src.id); err != nil {
		return err
	}
	m.change(src.id, FieldOwner, strp(m.agentOwner), strp(m.accountOwner))
	if !src.state.Valid {
		m.change(src.id, FieldState, nil, strp(unconfirmed))
	}
	return nil
}

// merge moves what names src to dst, the account's device of the same
// serial, and deletes src.
func (m *mover) merge(ctx context.Context, src, dst ownedDevice) error {
	// A read of the same time on both is one read seen twice: dst keeps
	// its own (meter_reads is keyed by device and read time).
	if _, err := m.tx.ExecContext(ctx, m.q(`DELETE FROM meter_reads
WHERE device_id = ? AND read_at IN (SELECT read_at FROM meter_reads WHERE device_id = ?)`), src.id, dst.id); err != nil {
		return fmt.Errorf("drop the reads both devices have: %w", err)
	}
	if _, err := m.tx.ExecContext(ctx, m.q(`UPDATE meter_reads SET device_id = ? WHERE device_id = ?`), dst.id, src.id); err != nil {
		return fmt.Errorf("move the reads: %w", err)
	}
	// src's resets compared its reads among themselves: in dst's history
	// other reads fall between them. They are detected anew on the whole.
	if _, err := m.tx.ExecContext(ctx, m.q(`DELETE FROM counter_resets WHERE device_id = ?`), src.id); err != nil {
		return fmt.Errorf("drop the counter resets: %w", err)
	}
	if err := m.redetectResets(ctx, dst.id); err != nil {
		return err
	}
	// A customer's request names only a device of its account, never an
	// agent's: this keeps a request that somehow names src on dst.
	if _, err := m.tx.ExecContext(ctx, m.q(`UPDATE customer_request_devices SET device_id = ?
WHERE device_id = ? AND request_id NOT IN (SELECT request_id FROM customer_request_devices WHERE device_id = ?)`), dst.id, src.id, dst.id); err != nil {
		return fmt.Errorf("move the requests: %w", err)
	}
	if _, err := m.tx.ExecContext(ctx, m.q(`DELETE FROM customer_request_devices WHERE device_id = ?`), src.id); err != nil {
		return fmt.Errorf("drop the requests both devices have: %w", err)
	}
	for _, table := range accountOnlyReferences {
		if _, err := m.tx.ExecContext(ctx, m.q(`UPDATE `+table+` SET device_id = ? WHERE device_id = ?`), dst.id, src.id); err != nil {
			return fmt.Errorf("move the %s: %w", table, err)
		}
	}
	if err := m.updateMerged(ctx, src, dst); err != nil {
		return err
	}
	if _, err := m.tx.ExecContext(ctx, m.q(`DELETE FROM devices WHERE id = ?`), src.id); err != nil {
		return fmt.Errorf("delete the merged device: %w", err)
	}
	m.change(src.id, FieldOwner, strp(m.agentOwner), strp(m.accountOwner))
	m.change(src.id, FieldMergedInto, nil, strp(strconv.FormatInt(dst.id, 10)))
	m.change(dst.id, FieldMergedFrom, nil, strp(strconv.FormatInt(src.id, 10)))
	return nil
}

// updateMerged sets dst from the merged history: its identity kept (a
// field it lacks taken from src), first and last seen spanning both, the
// address and agent of the device whose latest read is newer, and the
// latest read on time and its counters, as ingest keeps them.
func (m *mover) updateMerged(ctx context.Context, src, dst ownedDevice) error {
	or := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	address, agentID := dst.address, dst.agentID
	if src.lastReadAt.Valid && (!dst.lastReadAt.Valid || src.lastReadAt.Time.After(dst.lastReadAt.Time)) {
		address, agentID = src.address, src.agentID
	}
	firstSeen, lastSeen := dst.firstSeen, dst.lastSeen
	if src.firstSeen.Before(firstSeen) {
		firstSeen = src.firstSeen
	}
	if src.lastSeen.After(lastSeen) {
		lastSeen = src.lastSeen
	}
	var latest ownedDevice
	err := m.tx.QueryRowContext(ctx, m.q(`SELECT read_at, total, black, colour FROM meter_reads
WHERE device_id = ? AND NOT clock_ahead ORDER BY read_at DESC LIMIT 1`), dst.id).Scan(&latest.lastReadAt, &latest.lastTotal, &latest.lastBlack, &latest.lastColour)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read the latest read: %w", err)
	}
	var lastReadAt any
	if latest.lastReadAt.Valid {
		lastReadAt = latest.lastReadAt.Time.UTC()
	}
	_, err = m.tx.ExecContext(ctx, m.q(`UPDATE devices SET
    serial = ?, mac = ?, vendor = ?, model = ?, firmware = ?, address = ?, agent_id = ?,
    first_seen = ?, last_seen = ?, last_read_at = ?, last_total = ?, last_black = ?, last_colour = ?
WHERE id = ?`),
		or(dst.serial, src.serial), or(dst.mac, src.mac), or(dst.vendor, src.vendor), or(dst.model, src.model), or(dst.firmware, src.firmware),
		address, agentID, firstSeen.UTC(), lastSeen.UTC(), lastReadAt, latest.lastTotal, latest.lastBlack, latest.lastColour, dst.id)
	if err != nil {
		return fmt.Errorf("update the account's device: %w", err)
	}
	return nil
}

// deviceResets are the counter resets of a device's whole history, by the
// rule ingest applies read by read (collector/internal/store, resets.go):
// a counter lower than the same kind in the read just before it, among
// the reads on time that report the kind. Its parameter is the device,
// three times.
const deviceResets = `points AS (
    SELECT 'total' AS kind, read_at, total AS value FROM meter_reads WHERE device_id = ? AND NOT clock_ahead AND total IS NOT NULL
    UNION ALL
    SELECT 'black', read_at, black FROM meter_reads WHERE device_id = ? AND NOT clock_ahead AND black IS NOT NULL
    UNION ALL
    SELECT 'colour', read_at, colour FROM meter_reads WHERE device_id = ? AND NOT clock_ahead AND colour IS NOT NULL),
pairs AS (
    SELECT kind, read_at, value,
           lag(value) OVER (PARTITION BY kind ORDER BY read_at) AS previous_value,
           lag(read_at) OVER (PARTITION BY kind ORDER BY read_at) AS previous_read_at
    FROM points),
resets AS (
    SELECT kind, previous_value, previous_read_at, value, read_at FROM pairs WHERE value < previous_value)`

// redetectResets makes the device's counter resets those of its history
// now: a reset recorded before that still holds keeps its detected_at.
func (m *mover) redetectResets(ctx context.Context, deviceID int64) error {
	args := []any{deviceID, deviceID, deviceID, deviceID}
	_, err := m.tx.ExecContext(ctx, m.q(`WITH `+deviceResets+`
DELETE FROM counter_resets WHERE device_id = ? AND NOT EXISTS (
    SELECT 1 FROM resets r
    WHERE r.kind = counter_resets.kind AND r.read_at = counter_resets.read_at AND r.value = counter_resets.value
      AND r.previous_read_at = counter_resets.previous_read_at AND r.previous_value = counter_resets.previous_value)`), args...)
	if err != nil {
		return fmt.Errorf("drop the counter resets that no longer hold: %w", err)
	}
	detectedAt := "?"
	if m.d == schema.Postgres {
		detectedAt = "CAST(? AS timestamptz)" // a SELECT list gives PostgreSQL no type to infer
	}
	_, err = m.tx.ExecContext(ctx, m.q(`WITH `+deviceResets+`
INSERT INTO counter_resets (device_id, kind, previous_value, previous_read_at, value, read_at, detected_at)
SELECT CAST(? AS bigint), kind, previous_value, previous_read_at, value, read_at, `+detectedAt+` FROM resets WHERE true
ON CONFLICT (device_id, kind, read_at) DO NOTHING`), deviceID, deviceID, deviceID, deviceID, m.now)
	if err != nil {
		return fmt.Errorf("record the counter resets of the merged history: %w", err)
	}
	return nil
}

// followAgent moves the agent's devices keyed by MAC, address or a
// placeholder serial (they stay the agent's) to its account, unconfirmed,
// unless the back office has already decided on them (confirmed, rejected).
func (m *mover) followAgent(ctx context.Context) error {
	devices, err := m.agentOtherDevices(ctx)
	if err != nil {
		return fmt.Errorf("read the agent's other devices: %w", err)
	}
	account := strconv.FormatInt(m.accountID, 10)
	for _, dv := range devices {
		if _, err := m.tx.ExecContext(ctx, m.q(`UPDATE devices SET account_id = ?, state = ? WHERE id = ?`), m.accountID, unconfirmed, dv.id); err != nil {
			return fmt.Errorf("move device %d: %w", dv.id, err)
		}
		var old *string
		if dv.account.Valid {
			old = strp(strconv.FormatInt(dv.account.Int64, 10))
		}
		m.change(dv.id, FieldAccount, old, &account)
		if !dv.state.Valid {
			m.change(dv.id, FieldState, nil, strp(unconfirmed))
		}
	}
	return nil
}

// otherDevice is a device of the agent's not keyed by serial.
type otherDevice struct {
	id      int64
	account sql.NullInt64
	state   sql.NullString
}

// agentOtherDevices reads and locks the agent's devices keyed by MAC,
// address or placeholder serial that are not the account's yet and that
// the back office has not decided on.
func (m *mover) agentOtherDevices(ctx context.Context) ([]otherDevice, error) {
	rows, err := m.tx.QueryContext(ctx, m.q(`SELECT id, account_id, state FROM devices
WHERE owner = ? AND device_key NOT LIKE 'sn:%' AND (state IS NULL OR state = ?) AND (account_id IS NULL OR account_id <> ?)
ORDER BY device_key`+forUpdate(m.d)), m.agentOwner, unconfirmed, m.accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var devices []otherDevice
	for rows.Next() {
		var dv otherDevice
		if err := rows.Scan(&dv.id, &dv.account, &dv.state); err != nil {
			return nil, err
		}
		devices = append(devices, dv)
	}
	return devices, rows.Err()
}
