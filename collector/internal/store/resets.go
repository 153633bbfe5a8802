package store

import (
	"context"
	"fmt"
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
func counterOf(kindExpr, row string) string {
	var b strings.Builder
	b.WriteString("CASE " + kindExpr)
	for _, k := range resetKinds {
		fmt.Fprintf(&b, " WHEN '%s' THEN %s.%s", k, row, k)
	}
	b.WriteString(" END")
	return b.String()
}

// A counter reset is a read whose counter is lower than the same kind in
// the device's read just before it (by read time, among its reads on time
// that report the kind). The two statements below find them for the reads
// of a transaction, set-based: the "staged" CTE (device_id, read_at) that
// precedes each names the reads, which are in meter_reads by then. A read
// filed late (an agent's backlog) can fall between two stored reads: it is
// compared with the read before it, and the read after it is compared with
// it anew, so a reset recorded across the gap it filled goes first.

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

// insertResets records, for each staged read and kind, the pairs (read
// before, staged read) and (staged read, read after) whose counter went
// down. A pair recorded before (the same reads sent again) is kept as it
// is. detectedAt is the SQL of the detected_at parameter.
//
// Every neighbour and value is a scalar subquery on the primary key of
// meter_reads: left a join to plan, PostgreSQL merges whole partitions and
// SQLite scans the table. A read at or after its device's last_read_at
// (the usual case: reads arrive in order) has no read after it to look up.
func insertResets(detectedAt string) string {
	kinds := make([]string, len(resetKinds))
	for i, k := range resetKinds {
		kinds[i] = "SELECT '" + k + "' AS kind"
	}
	valueAt := func(kind, device, at string) string {
		return `(SELECT ` + counterOf(kind, "v") + ` FROM meter_reads v WHERE v.device_id = ` + device + ` AND v.read_at = ` + at + `)`
	}
	return `,
kinds AS (` + strings.Join(kinds, " UNION ALL ") + `),
neighbours AS MATERIALIZED (
    SELECT m.device_id, k.kind, m.read_at, ` + counterOf("k.kind", "m") + ` AS value,
           (SELECT p.read_at FROM meter_reads p
            WHERE p.device_id = m.device_id AND p.read_at < m.read_at AND NOT p.clock_ahead AND ` + counterOf("k.kind", "p") + ` IS NOT NULL
            ORDER BY p.read_at DESC LIMIT 1) AS previous_read_at,
           CASE WHEN m.read_at < s.last_read_at THEN
           (SELECT n.read_at FROM meter_reads n
            WHERE n.device_id = m.device_id AND n.read_at > m.read_at AND NOT n.clock_ahead AND ` + counterOf("k.kind", "n") + ` IS NOT NULL
            ORDER BY n.read_at LIMIT 1) END AS next_read_at
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

// detectedAtParam is the detected_at parameter of insertResets:
// PostgreSQL cannot infer its type from a SELECT list.
func (s *Store) detectedAtParam() string {
	if s.dialect == schema.Postgres {
		return "CAST(? AS timestamptz)"
	}
	return "?"
}

// stagedReadsPostgres names the reads of the transaction from its staging
// table.
const stagedReadsPostgres = `WITH staged AS (
    SELECT DISTINCT d.id AS device_id, s.read_at, d.last_read_at
    FROM staging_reads s JOIN devices d ON d.device_key = s.device_key)`

// stagedReadsSQLite names n reads, each passed as (device_id, read_at).
func stagedReadsSQLite(n int) string {
	return `WITH staged_reads (device_id, read_at) AS (VALUES ` + valuesList(n, 2) + `),
staged AS (
    SELECT s.device_id, s.read_at, d.last_read_at
    FROM staged_reads s JOIN devices d ON d.id = s.device_id)`
}

// recordCounterResets records the counter resets the staged reads reveal:
// staged is the WITH clause naming them, taking stagedArgs.
func (s *Store) recordCounterResets(ctx context.Context, tx *sqlx.Tx, staged string, stagedArgs []any, detectedAt time.Time) error {
	if s.dialect == schema.Postgres {
		// The planner prices the per-read lookups of insertResets high
		// enough to JIT-compile it: seconds of LLVM work for a statement
		// that runs in milliseconds.
		if _, err := tx.ExecContext(ctx, `SET LOCAL jit = off`); err != nil {
			return fmt.Errorf("turn JIT off: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(staged+deleteStaleResets), stagedArgs...); err != nil {
		return fmt.Errorf("delete stale counter resets: %w", err)
	}
	args := append(stagedArgs[:len(stagedArgs):len(stagedArgs)], detectedAt)
	if _, err := tx.ExecContext(ctx, tx.Rebind(staged+insertResets(s.detectedAtParam())), args...); err != nil {
		return fmt.Errorf("record counter resets: %w", err)
	}
	return nil
}
