package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/wire"
)

// clockAhead reports whether a read stamped readAt and stored at storedAt
// comes from an agent clock running ahead (wire.DeviceRead.Ahead). Such a
// read is stored flagged (meter_reads.clock_ahead): it never becomes its
// device's latest read, and reset detection and usage leave it out, its
// time being no guide to where it falls among the device's reads.
func clockAhead(readAt, storedAt time.Time) bool {
	return wire.DeviceRead{ReadAt: readAt}.Ahead(storedAt)
}

// resetKinds are the counters checked for resets: the promoted columns,
// which billing and the portal read. Comparing them costs no JSON parsing.
var resetKinds = []string{"total", "black", "colour"}

// counterOf is the SQL value of the counter named by kindExpr in the read
// aliased row.
func counterOf(kindExpr, row string) string { return counterColumn(kindExpr, row+".") }

// counterColumn is the SQL value of the column prefix+kind, the kind
// named by kindExpr.
func counterColumn(kindExpr, prefix string) string {
	var b strings.Builder
	b.WriteString("CASE " + kindExpr)
	for _, k := range resetKinds {
		fmt.Fprintf(&b, " WHEN '%s' THEN %s%s", k, prefix, k)
	}
	b.WriteString(" END")
	return b.String()
}

// kindsCTE names the reset kinds, one row each.
func kindsCTE() string {
	kinds := make([]string, len(resetKinds))
	for i, k := range resetKinds {
		kinds[i] = "SELECT '" + k + "' AS kind"
	}
	return `kinds AS (` + strings.Join(kinds, " UNION ALL ") + `)`
}

// valueAt is the SQL value of the counter kind of the device's read at at,
// looked up on the primary key of meter_reads.
func valueAt(kind, device, at string) string {
	return `(SELECT ` + counterOf(kind, "v") + ` FROM meter_reads v WHERE v.device_id = ` + device + ` AND v.read_at = ` + at + `)`
}

// A counter reset is a read whose counter is lower than the same kind in
// the device's read just before it (by read time, among its reads on time
// that report the kind). They are recorded for the reads each transaction
// adds (a read already stored was checked when it was), in one of two
// ways:
//
//   - A read newer than its device's latest read on time before the
//     transaction (the usual case: reads arrive in order) comes after every
//     stored read. The device row carries that latest read's time and
//     counters (devices.last_read_at, last_total, last_black,
//     last_colour), so the read is compared with them, or with the reads
//     of the transaction before it, without a lookup in meter_reads: set-
//     based on PostgreSQL (freshResets), in process on SQLite
//     (recordFreshResetsSQLite). Only a kind the latest read lacks is
//     looked up.
//   - A read filed late (an agent's backlog) falls between two stored reads:
//     it is compared with the read before it, and the read after it is
//     compared with it anew, so a reset recorded across the gap it filled
//     goes first (deleteStaleResets, then insertBacklogResets). These run
//     after the in-order reads are checked, so they also correct a reset
//     recorded across a late read of the same transaction.

// The backlog statements take the "staged" CTE (device_id, read_at) that
// precedes each: the late reads, which are in meter_reads by then.

// deleteStaleResets removes the resets whose span (previous_read_at,
// read_at) a staged read now falls in: their previous read is no longer
// the one just before.
var deleteStaleResets = `
DELETE FROM counter_resets
WHERE (device_id, kind, read_at) IN (
    SELECT r.device_id, r.kind, r.read_at
    FROM staged s
    JOIN meter_reads m ON m.device_id = s.device_id AND m.read_at = s.read_at
    JOIN counter_resets r ON r.device_id = s.device_id AND r.previous_read_at < s.read_at AND r.read_at > s.read_at
    WHERE NOT m.clock_ahead AND ` + counterOf("r.kind", "m") + ` IS NOT NULL)`

// insertBacklogResets records, for each staged read and kind, the pairs
// (read before, staged read) and (staged read, read after) whose counter
// went down. A pair recorded before is kept as it is.
//
// Every neighbour and value is a scalar subquery on the primary key of
// meter_reads: left a join to plan, PostgreSQL merges whole partitions and
// SQLite scans the table.
func insertBacklogResets(detectedAt string) string {
	return `,
` + kindsCTE() + `,
neighbours AS MATERIALIZED (
    SELECT m.device_id, k.kind, m.read_at, ` + counterOf("k.kind", "m") + ` AS value,
           (SELECT p.read_at FROM meter_reads p
            WHERE p.device_id = m.device_id AND p.read_at < m.read_at AND NOT p.clock_ahead AND ` + counterOf("k.kind", "p") + ` IS NOT NULL
            ORDER BY p.read_at DESC LIMIT 1) AS previous_read_at,
           (SELECT n.read_at FROM meter_reads n
            WHERE n.device_id = m.device_id AND n.read_at > m.read_at AND NOT n.clock_ahead AND ` + counterOf("k.kind", "n") + ` IS NOT NULL
            ORDER BY n.read_at LIMIT 1) AS next_read_at
    FROM staged s
    JOIN meter_reads m ON m.device_id = s.device_id AND m.read_at = s.read_at
    CROSS JOIN kinds k
    WHERE NOT m.clock_ahead AND ` + counterOf("k.kind", "m") + ` IS NOT NULL),
pairs AS (
    SELECT device_id, kind, ` + valueAt("nb.kind", "nb.device_id", "nb.previous_read_at") + ` AS previous_value, previous_read_at, value, read_at
    FROM neighbours nb WHERE previous_read_at IS NOT NULL
    UNION
    SELECT device_id, kind, value, read_at, ` + valueAt("nb.kind", "nb.device_id", "nb.next_read_at") + `, next_read_at
    FROM neighbours nb WHERE next_read_at IS NOT NULL)
INSERT INTO counter_resets (device_id, kind, previous_value, previous_read_at, value, read_at, detected_at)
SELECT device_id, kind, previous_value, previous_read_at, value, read_at, ` + detectedAt + `
FROM pairs
WHERE value < previous_value
ON CONFLICT (device_id, kind, read_at) DO NOTHING`
}

// detectedAtParam is the detected_at parameter of the insert statements:
// PostgreSQL cannot infer its type from a SELECT list.
func (s *Store) detectedAtParam() string {
	if s.dialect == schema.Postgres {
		return "CAST(? AS timestamptz)"
	}
	return "?"
}

// backlogRead is a read filed behind its device's latest read on time.
type backlogRead struct {
	deviceID int64
	readAt   time.Time
}

// stagedBacklog is the WITH clause naming the backlog reads, and its
// arguments.
func (s *Store) stagedBacklog(reads []backlogRead) (string, []any) {
	if s.dialect == schema.Postgres {
		ids := make([]int64, len(reads))
		times := make([]string, len(reads))
		for i, r := range reads {
			ids[i], times[i] = r.deviceID, pgTime(r.readAt)
		}
		return `WITH staged AS (
    SELECT * FROM unnest(CAST(? AS bigint[]), CAST(? AS timestamptz[])) AS s (device_id, read_at))`, []any{pgArray(ids), pgArray(times)}
	}
	args := make([]any, 0, 2*len(reads))
	for _, r := range reads {
		args = append(args, r.deviceID, r.readAt)
	}
	return `WITH staged (device_id, read_at) AS (VALUES ` + valuesList(len(reads), 2) + `)`, args
}

// recordBacklogResets records the counter resets the backlog reads reveal,
// after those of the transaction's in-order reads.
func (s *Store) recordBacklogResets(ctx context.Context, tx *sqlx.Tx, reads []backlogRead, detectedAt time.Time) error {
	if len(reads) == 0 {
		return nil
	}
	// SQLite takes them a statement's worth of parameters at a time: a
	// chunk's reads are stored with the others, so the order is free.
	size := len(reads)
	if s.dialect != schema.Postgres {
		size = rowsPerInsert
	}
	for chunk := range slices.Chunk(reads, size) {
		staged, args := s.stagedBacklog(chunk)
		if _, err := tx.ExecContext(ctx, tx.Rebind(staged+deleteStaleResets), args...); err != nil {
			return fmt.Errorf("delete stale counter resets: %w", err)
		}
		args = append(args, detectedAt)
		if _, err := tx.ExecContext(ctx, tx.Rebind(staged+insertBacklogResets(s.detectedAtParam())), args...); err != nil {
			return fmt.Errorf("record counter resets of late reads: %w", err)
		}
	}
	return nil
}
