package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// DeviceSummary is a device as the device list shows it: who it is, where
// it is, and its latest read.
type DeviceSummary struct {
	ID int64
	// Key is the collector's identity of the device (see wire.DeviceRead.Key).
	Key     string
	Serial  string
	MAC     string
	Vendor  string
	Model   string
	Address string
	// AgentID is the agent that last reported the device, "" if unknown.
	AgentID  string
	LastSeen time.Time
	// Latest is the device's latest read, nil when it has none yet.
	Latest *Read
}

// Name is how the device is named to a person: its serial number, or its
// key when it reports no serial.
func (d DeviceSummary) Name() string {
	if d.Serial != "" {
		return d.Serial
	}
	return d.Key
}

// Read is one meter read of a device. A counter the device does not have
// is nil, never zero.
type Read struct {
	At     time.Time
	Total  *int64
	Black  *int64
	Colour *int64
	// Unreported lists the billing meters the device's model does not
	// report (wire.DeviceRead.Unreported), as the agent read them.
	Unreported []domain.CounterKind
	Supplies   []wire.Supply
	Status     *wire.Status
}

// NotReported reports whether the read says the model has no such meter.
func (r *Read) NotReported(kind domain.CounterKind) bool {
	for _, k := range r.Unreported {
		if k == kind {
			return true
		}
	}
	return false
}

// deviceRow is one row of devicesQuery; the read's columns are NULL when
// the device has no read.
type deviceRow struct {
	ID         int64          `db:"id"`
	Key        string         `db:"device_key"`
	Serial     string         `db:"serial"`
	MAC        string         `db:"mac"`
	Vendor     string         `db:"vendor"`
	Model      string         `db:"model"`
	Address    string         `db:"address"`
	AgentID    sql.NullString `db:"agent_id"`
	LastSeen   time.Time      `db:"last_seen"`
	ReadAt     sql.NullTime   `db:"read_at"`
	Total      sql.NullInt64  `db:"total"`
	Black      sql.NullInt64  `db:"black"`
	Colour     sql.NullInt64  `db:"colour"`
	Supplies   []byte         `db:"supplies"`
	Status     []byte         `db:"status"`
	Unreported []byte         `db:"unreported"`
}

// devicesQuery joins each device to its latest read in one pass: the
// collector keeps devices.last_read_at at the newest read_at, and
// (device_id, read_at) is meter_reads' primary key, so the join is an
// index lookup per device instead of a query per device. %s is the WHERE
// clause.
const devicesQuery = `
SELECT d.id, d.device_key, d.serial, d.mac, d.vendor, d.model, d.address,
       d.agent_id, d.last_seen,
       r.read_at, r.total, r.black, r.colour, r.supplies, r.status, r.unreported
FROM devices d
LEFT JOIN meter_reads r ON r.device_id = d.id AND r.read_at = d.last_read_at
%s
ORDER BY CASE WHEN d.vendor = '' THEN 1 ELSE 0 END,
         lower(d.vendor), lower(d.model), d.serial, d.device_key`

// Devices returns every device with its latest read, sorted by vendor,
// model and serial number; devices of unknown vendor come last. It is for
// the back office: a customer's page lists AccountDeviceSummaries.
func (s *Store) Devices(ctx context.Context) ([]DeviceSummary, error) {
	return s.deviceSummaries(ctx, "")
}

// AccountDeviceSummaries returns the devices under contract of an account
// with their latest reads, sorted as Devices (index devices_account_key).
func (s *Store) AccountDeviceSummaries(ctx context.Context, accountID int64) ([]DeviceSummary, error) {
	return s.deviceSummaries(ctx, "WHERE d.account_id = ? AND d.contract_id IS NOT NULL", accountID)
}

func (s *Store) deviceSummaries(ctx context.Context, where string, args ...any) ([]DeviceSummary, error) {
	var rows []deviceRow
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(fmt.Sprintf(devicesQuery, where)), args...); err != nil {
		return nil, fmt.Errorf("store: list devices: %w", err)
	}
	out := make([]DeviceSummary, 0, len(rows))
	for _, r := range rows {
		d, err := r.summary()
		if err != nil {
			return nil, fmt.Errorf("store: list devices: device %s: %w", r.Key, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func (r deviceRow) summary() (DeviceSummary, error) {
	d := DeviceSummary{
		ID:       r.ID,
		Key:      r.Key,
		Serial:   r.Serial,
		MAC:      r.MAC,
		Vendor:   r.Vendor,
		Model:    r.Model,
		Address:  r.Address,
		AgentID:  r.AgentID.String,
		LastSeen: r.LastSeen.UTC(),
	}
	if !r.ReadAt.Valid {
		return d, nil
	}
	read := &Read{
		At:     r.ReadAt.Time.UTC(),
		Total:  nullInt(r.Total),
		Black:  nullInt(r.Black),
		Colour: nullInt(r.Colour),
	}
	if len(r.Supplies) > 0 {
		if err := json.Unmarshal(r.Supplies, &read.Supplies); err != nil {
			return d, fmt.Errorf("decode supplies: %w", err)
		}
	}
	if len(r.Status) > 0 {
		if err := json.Unmarshal(r.Status, &read.Status); err != nil {
			return d, fmt.Errorf("decode status: %w", err)
		}
	}
	if len(r.Unreported) > 0 {
		if err := json.Unmarshal(r.Unreported, &read.Unreported); err != nil {
			return d, fmt.Errorf("decode unreported meters: %w", err)
		}
	}
	d.Latest = read
	return d, nil
}

func nullInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}
