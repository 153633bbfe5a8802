package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// On SQLite (one writer, in process) the reads of a transaction go in
// multi-row INSERTs, a few hundred rows each: far under SQLite's 32766
// parameters per statement, and one statement instead of hundreds.

const (
	deviceColumns = 17
	readColumns   = 13
	rowsPerInsert = 32766 / readColumns / 4
)

const insertDevices = `INSERT INTO devices (owner, device_key, account_id, state, serial, mac, vendor, model, firmware, address, agent_id, first_seen, last_seen, last_read_at, last_total, last_black, last_colour) VALUES `

// deviceBefore is a device's latest read on time before the transaction:
// its time and counters, all NULL when it has none.
type deviceBefore struct {
	readAt               sql.NullTime
	total, black, colour sql.NullInt64
}

const insertMeterReads = `INSERT INTO meter_reads (device_id, read_at, agent_id, seq, total, black, colour, counters, supplies, status, stored_at, clock_ahead, unreported) VALUES `

func (s *Store) insertReads(ctx context.Context, tx *sqlx.Tx, batches []pendingBatch, storedAt time.Time) (map[batchKey]int, error) {
	type staged struct {
		agentID string
		seq     int64
		row     *readRow
		ahead   bool // stamped ahead of storedAt: see clockAhead
	}
	// seenAt is when a read shows its device was seen: a read stamped
	// ahead counts as seen when stored.
	seenAt := func(r staged) time.Time {
		if r.ahead {
			return storedAt
		}
		return r.row.readAt
	}
	var reads []staged
	newest := map[string]staged{}
	firstSeen := map[string]time.Time{}
	for _, b := range batches {
		for i := range b.rows {
			r := staged{agentID: b.id.agentID, seq: b.id.seq, row: &b.rows[i]}
			r.ahead = clockAhead(r.row.readAt, storedAt)
			reads = append(reads, r)
			// The newest read on time, else the newest read.
			id := r.row.identity()
			if n, ok := newest[id]; !ok || n.ahead && !r.ahead || n.ahead == r.ahead && r.row.readAt.After(n.row.readAt) {
				newest[id] = r
			}
			if f, ok := firstSeen[id]; !ok || seenAt(r).Before(f) {
				firstSeen[id] = seenAt(r)
			}
		}
	}

	// Devices: each once, from its newest read on time (see deviceUpdate).
	keys := make([]string, 0, len(newest))
	for k := range newest {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// What the known devices were before, for freshResets: read before the
	// upsert changes them (SQLite has one writer: nothing else can).
	ids := make(map[string]int64, len(keys))
	before := make(map[int64]deviceBefore, len(keys))
	for chunk := range slices.Chunk(keys, rowsPerInsert) {
		if err := readDevicesBefore(ctx, tx, chunk, ids, before); err != nil {
			return nil, err
		}
	}
	for chunk := range slices.Chunk(keys, rowsPerInsert) {
		args := make([]any, 0, deviceColumns*len(chunk))
		for _, k := range chunk {
			n := newest[k]
			r := n.row
			// The latest read on time: none when the newest is ahead.
			var lastReadAt any = r.readAt
			total, black, colour := r.total, r.black, r.colour
			if n.ahead {
				lastReadAt = nil
				total, black, colour = sql.NullInt64{}, sql.NullInt64{}, sql.NullInt64{}
			}
			// A device created for an agent of an account waits for the
			// back office to confirm it.
			var state any
			if r.accountID.Valid {
				state = "unconfirmed"
			}
			args = append(args, r.owner, r.key, r.accountID, state, r.serial, r.mac, r.vendor, r.model, r.firmware, r.address, n.agentID, firstSeen[k], seenAt(n), lastReadAt, total, black, colour)
		}
		upsert := insertDevices + valuesList(len(chunk), deviceColumns) + "\nON CONFLICT (owner, device_key) DO UPDATE SET" + deviceSet + "\nWHERE " + deviceNewer
		if _, err := tx.ExecContext(ctx, upsert, args...); err != nil {
			return nil, fmt.Errorf("upsert devices: %w", err)
		}
	}
	var added []string // the new devices
	for _, k := range keys {
		if _, ok := ids[k]; !ok {
			added = append(added, k)
		}
	}
	for chunk := range slices.Chunk(added, rowsPerInsert) {
		rows, err := tx.QueryxContext(ctx, `SELECT owner, device_key, id FROM devices
WHERE (owner, device_key) IN (VALUES `+valuesList(len(chunk), 2)+`)`, identityArgs(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("read device ids: %w", err)
		}
		for rows.Next() {
			var owner, key string
			var id int64
			if err := rows.Scan(&owner, &key, &id); err != nil {
				rows.Close() //nolint:sqlclosecheck // closed on every path inside the loop: a defer would hold each chunk's rows until the function returns
				return nil, fmt.Errorf("read device ids: %w", err)
			}
			ids[owner+"\x00"+key] = id
		}
		rows.Close() //nolint:sqlclosecheck // see above: closed before the next chunk
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read device ids: %w", err)
		}
	}

	// The reads added, on time, split as in copyReads: those newer than
	// their device's latest read before (fresh), and the others (backlog).
	stored := make(map[batchKey]int, len(batches))
	var fresh []freshRead
	var backlog []backlogRead
	for chunk := range slices.Chunk(reads, rowsPerInsert) {
		args := make([]any, 0, readColumns*len(chunk))
		for _, rd := range chunk {
			r := rd.row
			args = append(args, ids[r.identity()], r.readAt, rd.agentID, rd.seq, r.total, r.black, r.colour, r.counters, r.supplies, r.status, storedAt, rd.ahead, r.unreported)
		}
		rows, err := tx.QueryxContext(ctx, insertMeterReads+valuesList(len(chunk), readColumns)+`
ON CONFLICT (device_id, read_at) DO NOTHING
RETURNING agent_id, seq, device_id, read_at, total, black, colour, clock_ahead`, args...)
		if err != nil {
			return nil, fmt.Errorf("insert meter reads: %w", err)
		}
		for rows.Next() {
			var k batchKey
			var f freshRead
			var ahead bool
			if err := rows.Scan(&k.agentID, &k.seq, &f.deviceID, &f.readAt, &f.total, &f.black, &f.colour, &ahead); err != nil {
				rows.Close() //nolint:sqlclosecheck // closed on every path inside the loop: a defer would hold each chunk's rows until the function returns
				return nil, fmt.Errorf("insert meter reads: %w", err)
			}
			stored[k]++
			if ahead {
				continue
			}
			f.readAt = f.readAt.UTC()
			f.before = before[f.deviceID]
			if f.before.readAt.Valid && !f.readAt.After(f.before.readAt.Time) {
				backlog = append(backlog, backlogRead{f.deviceID, f.readAt})
			} else {
				fresh = append(fresh, f)
			}
		}
		rows.Close() //nolint:sqlclosecheck // see above: closed before the next chunk
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("insert meter reads: %w", err)
		}
	}
	if err := s.recordFreshResetsSQLite(ctx, tx, fresh, storedAt); err != nil {
		return nil, err
	}
	if err := s.recordBacklogResets(ctx, tx, backlog, storedAt); err != nil {
		return nil, err
	}
	return stored, nil
}

// freshRead is a read added newer than its device's latest read before.
type freshRead struct {
	deviceID             int64
	readAt               time.Time
	total, black, colour sql.NullInt64
	before               deviceBefore
}

// counter is the read's counter of resetKinds[i].
func (r freshRead) counter(i int) sql.NullInt64 {
	return [...]sql.NullInt64{r.total, r.black, r.colour}[i]
}

func (b deviceBefore) counter(i int) sql.NullInt64 {
	return [...]sql.NullInt64{b.total, b.black, b.colour}[i]
}

// recordFreshResetsSQLite records the counter resets of the fresh reads,
// by the rule of freshResets on PostgreSQL, but in process: the reads and
// their devices' latest reads are at hand, and SQLite's window functions
// over a VALUES list cost more than filing the reads. Only a kind missing
// from a device's latest read is looked up.
func (s *Store) recordFreshResetsSQLite(ctx context.Context, tx *sqlx.Tx, fresh []freshRead, detectedAt time.Time) error {
	slices.SortFunc(fresh, func(a, b freshRead) int {
		return cmp.Or(cmp.Compare(a.deviceID, b.deviceID), a.readAt.Compare(b.readAt))
	})
	const resetColumns = 7
	var resets []any
	for i := 0; i < len(fresh); {
		j := i + 1
		for j < len(fresh) && fresh[j].deviceID == fresh[i].deviceID {
			j++
		}
		device, before := fresh[i].deviceID, fresh[i].before
		for k, kind := range resetKinds {
			var prevAt time.Time
			var prev sql.NullInt64
			looked := false
			if before.readAt.Valid {
				prevAt, prev = before.readAt.Time.UTC(), before.counter(k)
				looked = prev.Valid
			}
			for _, f := range fresh[i:j] {
				v := f.counter(k)
				if !v.Valid {
					continue
				}
				if !looked && before.readAt.Valid {
					var err error
					if prevAt, prev, err = previousCounter(ctx, tx, device, kind, before.readAt.Time); err != nil {
						return err
					}
				}
				looked = true
				if prev.Valid && v.Int64 < prev.Int64 {
					resets = append(resets, device, kind, prev.Int64, prevAt, v.Int64, f.readAt, detectedAt)
				}
				prevAt, prev = f.readAt, v
			}
		}
		i = j
	}
	for chunk := range slices.Chunk(resets, resetColumns*rowsPerInsert) {
		_, err := tx.ExecContext(ctx, `INSERT INTO counter_resets (device_id, kind, previous_value, previous_read_at, value, read_at, detected_at) VALUES `+
			valuesList(len(chunk)/resetColumns, resetColumns)+` ON CONFLICT (device_id, kind, read_at) DO NOTHING`, chunk...)
		if err != nil {
			return fmt.Errorf("record counter resets: %w", err)
		}
	}
	return nil
}

// previousCounter returns the time and value of the device's latest read
// on time before before that has the counter kind (one of resetKinds);
// none is a NULL value.
func previousCounter(ctx context.Context, tx *sqlx.Tx, device int64, kind string, before time.Time) (time.Time, sql.NullInt64, error) {
	var at time.Time
	var v sql.NullInt64
	err := tx.QueryRowxContext(ctx, `SELECT read_at, `+kind+` FROM meter_reads
WHERE device_id = ? AND read_at < ? AND NOT clock_ahead AND `+kind+` IS NOT NULL
ORDER BY read_at DESC LIMIT 1`, device, before.UTC()).Scan(&at, &v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, sql.NullInt64{}, nil
	}
	if err != nil {
		return time.Time{}, sql.NullInt64{}, fmt.Errorf("previous %s counter of device %d: %w", kind, device, err)
	}
	return at.UTC(), v, nil
}

// valuesList writes n rows of cols '?' placeholders: (?, ?), (?, ?).
func valuesList(n, cols int) string {
	row := "(" + placeholders(cols) + ")"
	var b strings.Builder
	b.Grow(n * (len(row) + 2))
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// placeholders writes n '?' placeholders separated by commas.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// identity is the row's device identity in process: owner and key.
func (r *readRow) identity() string { return r.owner + "\x00" + r.key }

// identityArgs splits identities into (owner, device_key) arguments.
func identityArgs(identities []string) []any {
	args := make([]any, 0, 2*len(identities))
	for _, id := range identities {
		owner, key, _ := strings.Cut(id, "\x00")
		args = append(args, owner, key)
	}
	return args
}

// readDevicesBefore adds to ids and before the known devices among the
// identities (see readRow.identity): their id and their latest read on
// time.
func readDevicesBefore(ctx context.Context, tx *sqlx.Tx, identities []string, ids map[string]int64, before map[int64]deviceBefore) error {
	rows, err := tx.QueryxContext(ctx, `SELECT owner, device_key, id, last_read_at, last_total, last_black, last_colour FROM devices
WHERE (owner, device_key) IN (VALUES `+valuesList(len(identities), 2)+`)`, identityArgs(identities)...)
	if err != nil {
		return fmt.Errorf("read devices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var owner, key string
		var id int64
		var b deviceBefore
		if err := rows.Scan(&owner, &key, &id, &b.readAt, &b.total, &b.black, &b.colour); err != nil {
			return fmt.Errorf("read devices: %w", err)
		}
		ids[owner+"\x00"+key], before[id] = id, b
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read devices: %w", err)
	}
	return nil
}
