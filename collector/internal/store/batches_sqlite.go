package store

import (
	"context"
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
	deviceColumns = 11
	readColumns   = 13
	rowsPerInsert = 32766 / readColumns / 4
)

const insertDevices = `INSERT INTO devices (device_key, serial, mac, vendor, model, firmware, address, agent_id, first_seen, last_seen, last_read_at) VALUES `

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
			if n, ok := newest[r.row.key]; !ok || n.ahead && !r.ahead || n.ahead == r.ahead && r.row.readAt.After(n.row.readAt) {
				newest[r.row.key] = r
			}
			if f, ok := firstSeen[r.row.key]; !ok || seenAt(r).Before(f) {
				firstSeen[r.row.key] = seenAt(r)
			}
		}
	}

	// Devices: each once, from its newest read on time (see deviceUpdate).
	keys := make([]string, 0, len(newest))
	for k := range newest {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for chunk := range slices.Chunk(keys, rowsPerInsert) {
		args := make([]any, 0, deviceColumns*len(chunk))
		for _, k := range chunk {
			n := newest[k]
			r := n.row
			var lastReadAt any = r.readAt
			if n.ahead {
				lastReadAt = nil
			}
			args = append(args, r.key, r.serial, r.mac, r.vendor, r.model, r.firmware, r.address, n.agentID, firstSeen[k], seenAt(n), lastReadAt)
		}
		if _, err := tx.ExecContext(ctx, insertDevices+valuesList(len(chunk), deviceColumns)+deviceUpdate, args...); err != nil {
			return nil, fmt.Errorf("upsert devices: %w", err)
		}
	}
	ids := make(map[string]int64, len(keys))
	for chunk := range slices.Chunk(keys, rowsPerInsert) {
		args := make([]any, len(chunk))
		for i, k := range chunk {
			args[i] = k
		}
		rows, err := tx.QueryxContext(ctx, `SELECT device_key, id FROM devices WHERE device_key IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read device ids: %w", err)
		}
		for rows.Next() {
			var k string
			var id int64
			if err := rows.Scan(&k, &id); err != nil {
				rows.Close() //nolint:sqlclosecheck // closed on every path inside the loop: a defer would hold each chunk's rows until the function returns
				return nil, fmt.Errorf("read device ids: %w", err)
			}
			ids[k] = id
		}
		rows.Close() //nolint:sqlclosecheck // see above: closed before the next chunk
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read device ids: %w", err)
		}
	}

	stored := make(map[batchKey]int, len(batches))
	for chunk := range slices.Chunk(reads, rowsPerInsert) {
		args := make([]any, 0, readColumns*len(chunk))
		for _, rd := range chunk {
			r := rd.row
			args = append(args, ids[r.key], r.readAt, rd.agentID, rd.seq, r.total, r.black, r.colour, r.counters, r.supplies, r.status, storedAt, rd.ahead, r.unreported)
		}
		rows, err := tx.QueryxContext(ctx, insertMeterReads+valuesList(len(chunk), readColumns)+`
ON CONFLICT (device_id, read_at) DO NOTHING
RETURNING agent_id, seq`, args...)
		if err != nil {
			return nil, fmt.Errorf("insert meter reads: %w", err)
		}
		for rows.Next() {
			var k batchKey
			if err := rows.Scan(&k.agentID, &k.seq); err != nil {
				rows.Close() //nolint:sqlclosecheck // closed on every path inside the loop: a defer would hold each chunk's rows until the function returns
				return nil, fmt.Errorf("insert meter reads: %w", err)
			}
			stored[k]++
		}
		rows.Close() //nolint:sqlclosecheck // see above: closed before the next chunk
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("insert meter reads: %w", err)
		}
	}
	for chunk := range slices.Chunk(reads, rowsPerInsert) {
		args := make([]any, 0, 2*len(chunk))
		for _, rd := range chunk {
			args = append(args, ids[rd.row.key], rd.row.readAt)
		}
		if err := s.recordCounterResets(ctx, tx, stagedReadsSQLite(len(chunk)), args, storedAt); err != nil {
			return nil, err
		}
	}
	return stored, nil
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
