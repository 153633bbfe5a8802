package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/shared/domain"
)

// OpeningRead is the meters of a device when it was put under a contract
// (opening_reads, migration 0017): the supplier's installation or takeover
// read, which the first invoice bills from. Billing counts it as a real
// read of the device (loadHistory): a device read by hand once a year
// has a usage history from its first campaign on.
type OpeningRead struct {
	At     time.Time `db:"read_at"`
	Black  *int64    `db:"black"`
	Colour *int64    `db:"colour"`
	Total  *int64    `db:"total"`
}

func (o OpeningRead) reading() billing.Reading { return meterRow(o).reading() }

// same reports whether two opening reads say the same.
func (o OpeningRead) same(p OpeningRead) bool {
	return o.At.Equal(p.At) && eqID(o.Black, p.Black) && eqID(o.Colour, p.Colour) && eqID(o.Total, p.Total)
}

// checkOpening says what is wrong with d's opening read, if it has one,
// at now (billing.CheckOpening), and stores its time as the database
// keeps it.
func checkOpening(d *ContractedDevice, now time.Time) error {
	if d.Opening == nil {
		return nil
	}
	d.Opening.At = dbTime(d.Opening.At)
	return billing.CheckOpening(d.Opening.reading(), now)
}

// openingRead returns the opening read of a device under a contract, nil
// when none was given.
func openingRead(ctx context.Context, q sqlx.ExtContext, deviceID, contractID int64) (*OpeningRead, error) {
	var o OpeningRead
	err := sqlx.GetContext(ctx, q, &o, q.Rebind(`SELECT read_at, black, colour, total FROM opening_reads
WHERE device_id = ? AND contract_id = ?`), deviceID, contractID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("opening read of device %d: %w", deviceID, err)
	}
	o.At = o.At.UTC()
	return &o, nil
}

// putOpeningRead stores d's opening read under its contract, if it has
// one and the device has none there yet; nothing when the stored one says
// the same; ECONFLICT when it says otherwise (a read once invoiced from is
// not rewritten by a later import).
func (s *Store) putOpeningRead(ctx context.Context, tx *sqlx.Tx, d *ContractedDevice) (bool, error) {
	if d.Opening == nil {
		return false, nil
	}
	cur, err := openingRead(ctx, tx, d.ID, d.ContractID)
	switch {
	case err != nil:
		return false, err
	case cur != nil && cur.same(*d.Opening):
		return false, nil
	case cur != nil:
		return false, domain.Errorf(domain.ECONFLICT, "serial %s has another opening read under this contract (%s)", d.Serial, cur.At.Format(time.RFC3339))
	}
	o := d.Opening
	_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO opening_reads (device_id, contract_id, read_at, black, colour, total, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)`), d.ID, d.ContractID, o.At, o.Black, o.Colour, o.Total, dbTime(s.now()))
	if err != nil {
		return false, fmt.Errorf("opening read of serial %s: %w", d.Serial, constraint(err))
	}
	return true, nil
}

// lastOpeningRead returns the device's latest opening read at or before
// at as a billing read (device, time and meters: what a prior read is
// compared with), nil when it has none.
func lastOpeningRead(ctx context.Context, q sqlx.ExtContext, deviceID int64, at time.Time) (*BillingRead, error) {
	var rows []OpeningRead
	err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(`SELECT read_at, black, colour, total FROM opening_reads
WHERE device_id = ? AND read_at <= ? ORDER BY read_at DESC LIMIT 1`), deviceID, dbTime(at))
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	o := rows[0]
	return &BillingRead{DeviceID: deviceID, ReadAt: o.At.UTC(), Black: o.Black, Colour: o.Colour, Total: o.Total}, nil
}

// DeviceOpeningRead returns the opening read of a device under its
// current contract, nil when none was given; ENOTFOUND for a device not
// under contract.
func (s *Store) DeviceOpeningRead(ctx context.Context, deviceID int64) (*OpeningRead, error) {
	d, err := s.ContractedDevice(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	o, err := openingRead(ctx, s.db, d.ID, d.ContractID)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return o, nil
}
