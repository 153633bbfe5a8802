package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// MaxDeviceKeyBytes bounds a device key (see wire.DeviceRead.Key): it is a
// unique index key, and PostgreSQL refuses index entries of a few KiB.
const MaxDeviceKeyBytes = 512

// SaveBatch stores a read batch of the agent in one transaction and returns
// how many meter reads it added. A batch whose (agent, sequence) is already
// stored is a duplicate: nothing is written and duplicate is true. A read
// already stored for the same device and read time is skipped, so a read
// re-sent in a new batch is stored once.
//
// Errors caused by the data itself carry the domain code EINVALID; any
// other error is the database's and worth retrying.
func (s *Store) SaveBatch(ctx context.Context, agentID string, batch wire.ReadBatch, receivedAt time.Time) (stored int, duplicate bool, err error) {
	rows, err := batchRows(agentID, batch, receivedAt)
	if err != nil {
		return 0, false, err
	}
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		stored, duplicate, err = s.saveBatch(ctx, tx, agentID, batch.Sequence, len(batch.Reads), rows, dbTime(receivedAt))
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("store: save batch %d of agent %s: %w", batch.Sequence, agentID, refused(err))
	}
	return stored, duplicate, nil
}

// readRow is one read made ready for the devices and meter_reads tables.
type readRow struct {
	key                        string
	serial, mac, vendor, model string
	firmware, address          string
	readAt                     time.Time
	total, black, colour       sql.NullInt64
	counters, supplies         string
	status                     sql.NullString
}

// batchRows checks what the schema needs beyond wire validation and turns
// the reads into rows, ordered by device key so that concurrent batches
// lock devices in the same order and cannot deadlock.
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
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].key < rows[j].key })
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

const insertBatch = `INSERT INTO read_batches (agent_id, seq, reads, received_at)
VALUES (?, ?, ?, ?)
ON CONFLICT (agent_id, seq) DO NOTHING`

// upsertAgentSeen records that an agent was heard from.
const upsertAgentSeen = `INSERT INTO agents (id, first_seen, last_seen)
VALUES (?, ?, ?)
ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen`

// upsertDevice keeps a device's first_seen and takes the identity, address
// and agent of its newest read; an identity field a read leaves empty keeps
// its stored value (unknown is absent, not blank). A read older than the
// device's last one (an agent replaying its outbox) changes nothing, and
// then RETURNING yields no row.
const upsertDevice = `INSERT INTO devices (device_key, serial, mac, vendor, model, firmware, address, agent_id, first_seen, last_seen, last_read_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (device_key) DO UPDATE SET
    serial       = COALESCE(NULLIF(excluded.serial, ''), devices.serial),
    mac          = COALESCE(NULLIF(excluded.mac, ''), devices.mac),
    vendor       = COALESCE(NULLIF(excluded.vendor, ''), devices.vendor),
    model        = COALESCE(NULLIF(excluded.model, ''), devices.model),
    firmware     = COALESCE(NULLIF(excluded.firmware, ''), devices.firmware),
    address      = excluded.address,
    agent_id     = excluded.agent_id,
    last_seen    = excluded.last_seen,
    last_read_at = excluded.last_read_at
WHERE devices.last_seen <= excluded.last_seen
RETURNING id`

const selectDeviceID = `SELECT id FROM devices WHERE device_key = ?`

const insertMeterRead = `INSERT INTO meter_reads (device_id, read_at, agent_id, seq, total, black, colour, counters, supplies, status, stored_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (device_id, read_at) DO NOTHING`

func (s *Store) saveBatch(ctx context.Context, tx *sqlx.Tx, agentID string, seq uint64, reads int, rows []readRow, receivedAt time.Time) (stored int, duplicate bool, err error) {
	agentID = text(agentID)
	res, err := tx.ExecContext(ctx, tx.Rebind(insertBatch), agentID, int64(seq), reads, receivedAt)
	if err != nil {
		return 0, false, fmt.Errorf("insert read batch: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, false, fmt.Errorf("insert read batch: %w", err)
	} else if n == 0 {
		return 0, true, nil
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(upsertAgentSeen), agentID, receivedAt, receivedAt); err != nil {
		return 0, false, fmt.Errorf("upsert agent: %w", err)
	}
	storedAt := dbTime(s.now())
	for _, r := range rows {
		deviceID, err := upsertDeviceRow(ctx, tx, agentID, r)
		if err != nil {
			return 0, false, err
		}
		res, err := tx.ExecContext(ctx, tx.Rebind(insertMeterRead),
			deviceID, r.readAt, agentID, int64(seq), r.total, r.black, r.colour,
			r.counters, r.supplies, r.status, storedAt)
		if err != nil {
			return 0, false, fmt.Errorf("insert meter read of %s: %w", r.key, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, false, fmt.Errorf("insert meter read of %s: %w", r.key, err)
		}
		stored += int(n)
	}
	return stored, false, nil
}

func upsertDeviceRow(ctx context.Context, tx *sqlx.Tx, agentID string, r readRow) (int64, error) {
	var id int64
	err := tx.QueryRowxContext(ctx, tx.Rebind(upsertDevice),
		r.key, r.serial, r.mac, r.vendor, r.model, r.firmware, r.address, agentID,
		r.readAt, r.readAt, r.readAt).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowxContext(ctx, tx.Rebind(selectDeviceID), r.key).Scan(&id)
	}
	if err != nil {
		return 0, fmt.Errorf("upsert device %s: %w", r.key, err)
	}
	return id, nil
}
