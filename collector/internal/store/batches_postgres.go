package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// On PostgreSQL the reads of a transaction travel in one COPY into a
// temporary staging table, then two set-based statements file them: one
// creates their new devices and locks the others, one inserts the meter
// reads, skipping those already stored, updates the devices and records
// the counter resets of the reads that arrived in order. A row-by-row
// insert costs a round trip and a statement per read; this costs the same
// few statements per transaction, whatever its size, and two more when it
// holds reads filed late (recordBacklogResets).

// createStaging makes the connection's staging table on its first use; it
// empties itself at every commit.
const createStaging = `CREATE TEMP TABLE IF NOT EXISTS staging_reads (
    agent_id    text NOT NULL,
    seq         bigint NOT NULL,
    owner       text NOT NULL,
    device_key  text NOT NULL,
    account_id  bigint,
    serial      text NOT NULL,
    mac         text NOT NULL,
    vendor      text NOT NULL,
    model       text NOT NULL,
    firmware    text NOT NULL,
    address     text NOT NULL,
    read_at     timestamptz NOT NULL,
    total       bigint,
    black       bigint,
    colour      bigint,
    counters    json NOT NULL,
    supplies    json NOT NULL,
    status      json,
    clock_ahead boolean NOT NULL,
    unreported  json
) ON COMMIT DELETE ROWS`

var stagingColumns = []string{
	"agent_id", "seq", "owner", "device_key", "account_id", "serial", "mac", "vendor", "model", "firmware", "address",
	"read_at", "total", "black", "colour", "counters", "supplies", "status", "clock_ahead",
	"unreported",
}

// copyStagingReads starts the COPY of copyStaging (what pq.CopyIn built;
// the names need no quoting).
var copyStagingReads = "COPY staging_reads (" + strings.Join(stagingColumns, ", ") + ") FROM STDIN"

// lockStagedDevices creates the devices of the staged reads not known
// yet and locks the others, in (owner, device_key) order, so that concurrent
// writers wait for each other instead of deadlocking. It changes no known
// device (a DO UPDATE whose WHERE is false still locks the row):
// fileStagedReads does, having read what the device was before. A new
// device's first_seen is its oldest read; a read stamped ahead counts as
// seen at $1, the collector's clock. A device created for an agent of an
// account is 'unconfirmed' until the back office confirms it.
const lockStagedDevices = `INSERT INTO devices (owner, device_key, account_id, state, serial, mac, vendor, model, firmware, address, agent_id, first_seen, last_seen)
SELECT DISTINCT ON (owner, device_key) owner, device_key, account_id, CASE WHEN account_id IS NOT NULL THEN 'unconfirmed' END,
       serial, mac, vendor, model, firmware, address, agent_id,
       min(CASE WHEN clock_ahead THEN $1::timestamptz ELSE read_at END) OVER (PARTITION BY owner, device_key),
       CASE WHEN clock_ahead THEN $1::timestamptz ELSE read_at END
FROM staging_reads
ORDER BY owner, device_key, clock_ahead, staging_reads.read_at DESC
ON CONFLICT (owner, device_key) DO UPDATE SET last_seen = devices.last_seen WHERE false`

// fileStagedReads files the staged reads (added), updates each device
// from its newest read on time (latest, see deviceSet), and records the
// counter resets of the reads newer than their device's latest read before
// (fresh, see freshResets): all its parts see the devices as they were
// before it. It returns the reads added per batch, then the reads added
// behind their device's latest read (recordBacklogResets takes those).
func fileStagedReads() string {
	ctes, insertResets := freshResets("$1::timestamptz")
	return `WITH added AS (
    INSERT INTO meter_reads (device_id, read_at, agent_id, seq, total, black, colour, counters, supplies, status, stored_at, clock_ahead, unreported)
    SELECT d.id, s.read_at, s.agent_id, s.seq, s.total, s.black, s.colour, s.counters, s.supplies, s.status, $1, s.clock_ahead, s.unreported
    FROM staging_reads s JOIN devices d ON d.owner = s.owner AND d.device_key = s.device_key
    ON CONFLICT (device_id, read_at) DO NOTHING
    RETURNING device_id, read_at, agent_id, seq, total, black, colour, clock_ahead),
newest AS (
    SELECT DISTINCT ON (owner, device_key) owner, device_key, serial, mac, vendor, model, firmware, address, agent_id,
           CASE WHEN clock_ahead THEN $1::timestamptz ELSE read_at END AS last_seen,
           CASE WHEN clock_ahead THEN NULL ELSE read_at END AS last_read_at,
           CASE WHEN clock_ahead THEN NULL ELSE total END AS last_total,
           CASE WHEN clock_ahead THEN NULL ELSE black END AS last_black,
           CASE WHEN clock_ahead THEN NULL ELSE colour END AS last_colour
    FROM staging_reads
    ORDER BY owner, device_key, clock_ahead, read_at DESC),
latest AS (
    UPDATE devices SET` + deviceSet + `
    FROM newest AS excluded
    WHERE devices.owner = excluded.owner AND devices.device_key = excluded.device_key AND (` + deviceNewer + `)),
filed AS (
    SELECT a.device_id, a.read_at, a.total, a.black, a.colour,
           d.last_read_at AS before_at, d.last_total AS before_total, d.last_black AS before_black, d.last_colour AS before_colour
    FROM added a JOIN devices d ON d.id = a.device_id
    WHERE NOT a.clock_ahead),
fresh AS (SELECT * FROM filed WHERE before_at IS NULL OR read_at > before_at)` + ctes + `,
resets AS (` + insertResets + `)
SELECT agent_id, seq, count(*), NULL::bigint, NULL::timestamptz FROM added GROUP BY agent_id, seq
UNION ALL
SELECT NULL, NULL, NULL, device_id, read_at FROM filed WHERE read_at <= before_at`
}

// freshResets records the resets of the in-order reads named by the
// "fresh" CTE that precedes it: (device_id, read_at, total, black, colour,
// before_at, before_total, before_black, before_colour), the before_
// columns being the device's latest read on time before them (NULL when it
// had none). It returns the CTEs to follow fresh and the INSERT that uses
// them. detectedAt is the SQL of the detected_at parameter.
//
// Each read is compared with the device's read of the transaction just
// before it that has the kind (the window), else with the latest read
// before; only when that lacks the kind is meter_reads looked up, before
// it. That lookup cannot see the late reads this statement adds: a reset
// it records across one is corrected by recordBacklogResets.
func freshResets(detectedAt string) (ctes, insert string) {
	ctes = `,
` + kindsCTE() + `,
ordered AS (
    SELECT f.device_id, k.kind, f.read_at, ` + counterOf("k.kind", "f") + ` AS value,
           f.before_at, ` + counterColumn("k.kind", "f.before_") + ` AS before_value,
           lag(f.read_at) OVER w AS previous_read_at, lag(` + counterOf("k.kind", "f") + `) OVER w AS previous_value
    FROM fresh f CROSS JOIN kinds k
    WHERE ` + counterOf("k.kind", "f") + ` IS NOT NULL
    WINDOW w AS (PARTITION BY f.device_id, k.kind ORDER BY f.read_at)),
looked_up AS (
    SELECT o.device_id, o.kind, o.value, o.read_at,
           (SELECT p.read_at FROM meter_reads p
            WHERE p.device_id = o.device_id AND p.read_at < o.before_at AND NOT p.clock_ahead AND ` + counterOf("o.kind", "p") + ` IS NOT NULL
            ORDER BY p.read_at DESC LIMIT 1) AS previous_read_at
    FROM ordered o
    WHERE o.previous_read_at IS NULL AND o.before_at IS NOT NULL AND o.before_value IS NULL),
fresh_pairs AS (
    SELECT device_id, kind, previous_value, previous_read_at, value, read_at
    FROM ordered WHERE previous_read_at IS NOT NULL
    UNION ALL
    SELECT device_id, kind, before_value, before_at, value, read_at
    FROM ordered WHERE previous_read_at IS NULL AND before_value IS NOT NULL
    UNION ALL
    SELECT device_id, kind, ` + valueAt("l.kind", "l.device_id", "l.previous_read_at") + `, previous_read_at, value, read_at
    FROM looked_up l WHERE previous_read_at IS NOT NULL)`
	insert = `INSERT INTO counter_resets (device_id, kind, previous_value, previous_read_at, value, read_at, detected_at)
SELECT device_id, kind, previous_value, previous_read_at, value, read_at, ` + detectedAt + `
FROM fresh_pairs
WHERE value < previous_value
ON CONFLICT (device_id, kind, read_at) DO NOTHING`
	return ctes, insert
}

func (s *Store) copyReads(ctx context.Context, tx *sqlx.Tx, batches []pendingBatch, storedAt time.Time) (map[batchKey]int, error) {
	if _, err := tx.ExecContext(ctx, createStaging); err != nil {
		return nil, fmt.Errorf("create staging table: %w", err)
	}
	if err := copyStaging(ctx, tx, batches, storedAt); err != nil {
		return nil, fmt.Errorf("copy reads: %w", err)
	}
	// The planner prices the lookups of fileStagedReads and of the
	// backlog statements high enough to JIT-compile them: seconds of LLVM
	// work for statements that run in milliseconds.
	if _, err := tx.ExecContext(ctx, `SET LOCAL jit = off`); err != nil {
		return nil, fmt.Errorf("turn JIT off: %w", err)
	}
	if _, err := tx.ExecContext(ctx, lockStagedDevices, storedAt); err != nil {
		return nil, fmt.Errorf("lock devices: %w", err)
	}
	rows, err := tx.QueryxContext(ctx, fileStagedReads(), storedAt)
	if err != nil {
		return nil, fmt.Errorf("insert meter reads: %w", err)
	}
	defer rows.Close()
	stored := make(map[batchKey]int, len(batches))
	var backlog []backlogRead
	for rows.Next() {
		var agentID sql.NullString
		var seq, n, deviceID sql.NullInt64
		var readAt sql.NullTime
		if err := rows.Scan(&agentID, &seq, &n, &deviceID, &readAt); err != nil {
			return nil, fmt.Errorf("insert meter reads: %w", err)
		}
		if deviceID.Valid {
			backlog = append(backlog, backlogRead{deviceID.Int64, readAt.Time})
		} else {
			stored[batchKey{agentID.String, seq.Int64}] = int(n.Int64)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert meter reads: %w", err)
	}
	if err := s.recordBacklogResets(ctx, tx, backlog, storedAt); err != nil {
		return nil, err
	}
	return stored, nil
}

// copyStaging sends every read of the batches in one COPY … FROM STDIN.
func copyStaging(ctx context.Context, tx *sqlx.Tx, batches []pendingBatch, storedAt time.Time) error {
	stmt, err := tx.PrepareContext(ctx, copyStagingReads)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, b := range batches {
		for _, r := range b.rows {
			_, err := stmt.ExecContext(ctx, b.id.agentID, b.id.seq, r.owner, r.key, r.accountID, r.serial, r.mac, r.vendor, r.model, r.firmware, r.address,
				r.readAt, r.total, r.black, r.colour, r.counters, r.supplies, r.status, clockAhead(r.readAt, storedAt), r.unreported)
			if err != nil {
				return err
			}
		}
	}
	// The call without arguments ends the COPY and reports its outcome.
	if _, err := stmt.ExecContext(ctx); err != nil {
		return err
	}
	return stmt.Close()
}

// pgArray passes a slice as a PostgreSQL array parameter.
func pgArray(v any) any { return pq.Array(v) }

// pgTime writes a time for a timestamptz[] array parameter.
func pgTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
