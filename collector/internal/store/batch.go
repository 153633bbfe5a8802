package store

import (
	"database/sql"
	"errors"
	"math"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// MaxDeviceKeyBytes bounds a device key (see wire.DeviceRead.Key): it is a
// unique index key, and PostgreSQL refuses index entries of a few KiB.
const MaxDeviceKeyBytes = 512

// readRow is one read made ready for the devices and meter_reads tables.
type readRow struct {
	key string
	// owner scopes key (wire.Owner) and accountID is the account of the
	// read's agent (NULL: none yet): assignOwners sets both in the
	// transaction that stores the read.
	owner                      string
	accountID                  sql.NullInt64
	serial, mac, vendor, model string
	firmware, address          string
	readAt                     time.Time
	total, black, colour       sql.NullInt64
	counters, supplies         string
	status                     sql.NullString
	// unreported is the JSON array of wire.DeviceRead.Unreported, NULL
	// when the read lists none.
	unreported sql.NullString
}

// batchRows checks what the schema needs beyond wire validation and turns
// the reads into rows. (The device upserts order their rows by key
// themselves, so concurrent transactions lock devices in one order.)
func batchRows(agentID string, batch wire.ReadBatch, receivedAt time.Time) ([]readRow, error) {
	if batch.Sequence > math.MaxInt64 {
		return nil, domain.Errorf(domain.EINVALID, "sequence %d is over the largest storable %d", batch.Sequence, int64(math.MaxInt64))
	}
	if receivedAt.IsZero() {
		return nil, errors.New("store: received time missing")
	}
	rows := make([]readRow, 0, len(batch.Reads))
	for i, r := range batch.Reads {
		row, err := newReadRow(agentID, r)
		if err != nil {
			return nil, domain.Errorf(domain.EINVALID, "read %d: %s", i, domain.ErrorMessage(err))
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func newReadRow(agentID string, r wire.DeviceRead) (readRow, error) {
	key := text(r.Key(agentID))
	if len(key) > MaxDeviceKeyBytes {
		return readRow{}, domain.Errorf(domain.EINVALID, "device key of %d bytes is over the %d byte limit", len(key), MaxDeviceKeyBytes)
	}
	counters := r.Counters
	if counters == nil {
		counters = []wire.Counter{}
	}
	supplies := r.Supplies
	if supplies == nil {
		supplies = []wire.Supply{}
	}
	row := readRow{
		key:      key,
		serial:   text(wire.NormalizeSerial(r.Serial)),
		mac:      text(r.MAC),
		vendor:   text(r.Vendor),
		model:    text(r.Model),
		firmware: text(r.Firmware),
		address:  text(r.Address),
		readAt:   dbTime(r.ReadAt),
		total:    counter(r, domain.CounterTotal),
		black:    counter(r, domain.CounterBlack),
		colour:   counter(r, domain.CounterColour),
	}
	var err error
	if row.counters, err = jsonText(counters); err != nil {
		return readRow{}, err
	}
	if row.supplies, err = jsonText(supplies); err != nil {
		return readRow{}, err
	}
	if len(r.Unreported) > 0 {
		unreported, err := jsonText(r.Unreported)
		if err != nil {
			return readRow{}, err
		}
		row.unreported = sql.NullString{String: unreported, Valid: true}
	}
	if r.Status != nil {
		status, err := jsonText(r.Status)
		if err != nil {
			return readRow{}, err
		}
		row.status = sql.NullString{String: status, Valid: true}
	}
	return row, nil
}

// counter promotes a counter to its column: NULL when the device does not
// report that kind, never 0.
func counter(r wire.DeviceRead, kind domain.CounterKind) sql.NullInt64 {
	v, ok := r.Counter(kind)
	return sql.NullInt64{Int64: v, Valid: ok}
}
