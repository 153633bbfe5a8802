package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// Equipment is a device under contract as "My equipment" shows it (seed
// 000, issue 15): where it is, what it is, its latest meters and supply
// levels, and whether its reads come by themselves.
type Equipment struct {
	DeviceID    int64
	Serial      string
	Model       string
	ProductCode string
	State       domain.ContractState
	// PendingRemoval: the customer asked to remove it; shown with "*",
	// and no longer orderable (seed 000).
	PendingRemoval bool
	Replenishment  domain.ReplenishmentState
	// Location is where its supplies ship, nil when none is set.
	Location *Location
	// LastReadAt is the time of its latest read, nil when it has none.
	LastReadAt *time.Time
	// The meters of the latest read; a meter the device lacks is nil,
	// never zero.
	Black, Colour, Total *int64
	// Unreported lists the billing meters the latest read says the model
	// does not report.
	Unreported []domain.CounterKind
	// Supplies are the levels of the latest read. A special value is a
	// State (some_remaining for -3, unknown, empty…) with no Percent: it
	// is never shown as a percentage. Shared with other callers (the
	// store's memo of decoded supplies): read it, never modify it.
	Supplies []wire.Supply
	// Automatic: an agent read it within the window AccountEquipment was
	// given, so nobody needs to type its meters in.
	Automatic bool
}

// equipmentRow is one row of equipmentQuery. The location's and the
// read's columns are NULL when the device has none.
type equipmentRow struct {
	Total         int            `db:"total_devices"`
	ID            int64          `db:"id"`
	Serial        string         `db:"serial"`
	Model         string         `db:"model"`
	ProductCode   string         `db:"product_code"`
	State         string         `db:"state"`
	Replenishment string         `db:"replenishment"`
	LastReadAt    sql.NullTime   `db:"last_read_at"`
	Black         sql.NullInt64  `db:"black"`
	Colour        sql.NullInt64  `db:"colour"`
	TotalMeter    sql.NullInt64  `db:"total"`
	Supplies      []byte         `db:"supplies"`
	Unreported    []byte         `db:"unreported"`
	LocID         sql.NullInt64  `db:"loc_id"`
	Attention     sql.NullString `db:"attention"`
	Suite         sql.NullString `db:"suite"`
	Phone         sql.NullString `db:"phone"`
	nullAddress
	LocCreatedAt sql.NullTime `db:"loc_created_at"`
}

// equipmentOrder is the order of the list: by location (first created
// first, none last), then serial. It is the order of the index
// devices_equipment_order (migration 0016), which holds the devices
// equipmentWhere selects: a page is read from the index, never sorted.
const equipmentOrder = `ORDER BY (d.location_id IS NULL), d.location_id, d.serial, d.id`

// equipmentWhere selects an account's equipment: its devices under
// contract not removed (unconfirmed ones are not under contract). It is
// the index's WHERE, word for word, so that both databases use it.
const equipmentWhere = `WHERE d.account_id = ? AND d.contract_id IS NOT NULL AND d.state IN ('active', 'pending_removal')`

// equipmentQuery is a page of the list and how many devices the list
// holds, in one statement. The inner query walks the index
// devices_equipment_order to the page's devices (no sort, whatever the
// account's size, and no second pass over devices); only then are their
// locations and latest reads fetched, the reads by meter_reads' primary
// key (device_id, read_at) at devices.last_read_at, which the collector
// keeps at the newest read. The meters fall back to the copy the
// collector keeps on the device (last_black…) when the read row is gone.
// A location of another account is never shown (the join checks the
// account). Its arguments: the account twice, the limit, the offset.
const equipmentQuery = `
SELECT (` + equipmentCount + `) AS total_devices,
       d.id, d.serial, d.model, d.product_code, d.state, COALESCE(d.replenishment, '') AS replenishment, d.last_read_at,
       COALESCE(r.black, d.last_black) AS black, COALESCE(r.colour, d.last_colour) AS colour,
       COALESCE(r.total, d.last_total) AS total, r.supplies, r.unreported,
       l.id AS loc_id, l.attention, l.suite, l.phone, l.company, l.street, l.city, l.province,
       l.postal_code, l.country, l.created_at AS loc_created_at
FROM (` + equipmentPage + `) d
LEFT JOIN shipping_locations l ON l.id = d.location_id AND l.account_id = d.account_id
LEFT JOIN meter_reads r ON r.device_id = d.id AND r.read_at = d.last_read_at
ORDER BY d.no_location, d.location_id, d.serial, d.id`

// equipmentPage is the page's devices, read in the index's order.
const equipmentPage = `SELECT d.id, d.serial, d.model, d.product_code, d.state, d.replenishment, d.last_read_at,
       d.last_black, d.last_colour, d.last_total, d.location_id, d.account_id, (d.location_id IS NULL) AS no_location
    FROM devices d ` + equipmentWhere + ` ` + equipmentOrder + ` LIMIT ? OFFSET ?`

// equipmentCount counts an account's equipment from the same index.
const equipmentCount = `SELECT count(*) FROM devices d ` + equipmentWhere

// allRows is the LIMIT of a query that wants every row.
const allRows = math.MaxInt32

// AccountEquipment lists the devices under contract of an account that are
// not removed, by location then serial, each with its location, latest
// meters, supply levels and last read time. A device is Automatic when
// its latest read (every stored read comes from an agent) is at most
// automaticWithin old. One query, whatever the number of devices.
func (s *Store) AccountEquipment(ctx context.Context, accountID int64, automaticWithin time.Duration) ([]Equipment, error) {
	page, err := s.equipment(ctx, accountID, automaticWithin, allRows, 0)
	return page.Devices, err
}

// EquipmentPage is a page of an account's equipment and how many devices
// the account has in all.
type EquipmentPage struct {
	Devices []Equipment
	Total   int
}

// AccountEquipmentPage is AccountEquipment a page at a time: limit devices
// (1 to 500; 50 when 0) from offset, in the same order, with the count
// of them all. Only the page's reads are fetched and decoded.
func (s *Store) AccountEquipmentPage(ctx context.Context, accountID int64, automaticWithin time.Duration, limit, offset int) (EquipmentPage, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return EquipmentPage{}, err
	}
	return s.equipment(ctx, accountID, automaticWithin, limit, max(offset, 0))
}

func (s *Store) equipment(ctx context.Context, accountID int64, automaticWithin time.Duration, limit, offset int) (EquipmentPage, error) {
	rows := make([]equipmentRow, 0, min(limit, maxPage))
	err := s.selectPrepared(ctx, &rows, equipmentQuery, accountID, accountID, limit, offset)
	if err != nil {
		return EquipmentPage{}, fmt.Errorf("store: equipment of account %d: %w", accountID, err)
	}
	page := EquipmentPage{Devices: make([]Equipment, len(rows))}
	now := s.now()
	for i := range rows {
		r := &rows[i]
		e, err := r.equipment(accountID, now, automaticWithin, &s.supplies)
		if err != nil {
			return EquipmentPage{}, fmt.Errorf("store: equipment of account %d: device %d: %w", accountID, r.ID, err)
		}
		page.Devices[i], page.Total = e, r.Total
	}
	if len(rows) == 0 && offset > 0 {
		// Past the end there is no row to carry the count.
		if err := s.getPrepared(ctx, &page.Total, equipmentCount, accountID); err != nil {
			return EquipmentPage{}, fmt.Errorf("store: count the equipment of account %d: %w", accountID, err)
		}
	}
	return page, nil
}

func (r *equipmentRow) equipment(accountID int64, now time.Time, automaticWithin time.Duration, memo *suppliesMemo) (Equipment, error) {
	e := Equipment{
		DeviceID:       r.ID,
		Serial:         r.Serial,
		Model:          r.Model,
		ProductCode:    r.ProductCode,
		State:          domain.ContractState(r.State),
		PendingRemoval: r.State == string(domain.ContractPendingRemoval),
		Replenishment:  domain.ReplenishmentState(r.Replenishment),
		Black:          nullInt(r.Black),
		Colour:         nullInt(r.Colour),
		Total:          nullInt(r.TotalMeter),
	}
	if r.LastReadAt.Valid {
		at := r.LastReadAt.Time.UTC()
		e.LastReadAt = &at
		e.Automatic = now.Sub(at) <= automaticWithin
	}
	if r.LocID.Valid {
		e.Location = &Location{
			ID:        r.LocID.Int64,
			AccountID: accountID,
			LocationContact: LocationContact{
				Attention: r.Attention.String, Suite: r.Suite.String, Phone: r.Phone.String,
			},
			LocationAddress: r.address(),
			CreatedAt:       r.LocCreatedAt.Time.UTC(),
		}
	}
	if len(r.Supplies) > 0 {
		supplies, err := memo.decode(r.ID, r.Supplies)
		if err != nil {
			return e, err
		}
		e.Supplies = supplies
	}
	if len(r.Unreported) > 0 {
		if err := json.Unmarshal(r.Unreported, &e.Unreported); err != nil {
			return e, fmt.Errorf("decode unreported meters: %w", err)
		}
	}
	return e, nil
}

// AccountEquipmentDevice returns a device of an account's equipment: under
// contract of the account and not removed. A device of another account,
// a removed one or one not under contract is ENOTFOUND, as is an id that
// does not exist: the page that asks to remove a device reads it so.
func (s *Store) AccountEquipmentDevice(ctx context.Context, accountID, deviceID int64) (ContractedDevice, error) {
	var d ContractedDevice
	err := s.db.GetContext(ctx, &d, s.db.Rebind(`SELECT `+contractedColumns+` FROM devices
WHERE id = ? AND account_id = ? AND contract_id IS NOT NULL AND state IN ('active', 'pending_removal')`), deviceID, accountID)
	if err != nil {
		return ContractedDevice{}, fmt.Errorf("store: device %d of account %d: %w", deviceID, accountID,
			notFound(err, "account %d has no device %d", accountID, deviceID))
	}
	return d, nil
}
