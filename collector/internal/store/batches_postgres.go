package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// On PostgreSQL the reads of a transaction travel in one COPY into a
// temporary staging table, then two set-based statements file them: one
// upserts their devices, one inserts the meter reads, skipping those
// already stored. A row-by-row insert costs a round trip and a statement
// per read; this costs three statements per transaction, whatever its size.

// createStaging makes the connection's staging table on its first use; it
// empties itself at every commit.
const createStaging = `CREATE TEMP TABLE IF NOT EXISTS staging_reads (
    agent_id    text NOT NULL,
    seq         bigint NOT NULL,
    device_key  text NOT NULL,
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
	"agent_id", "seq", "device_key", "serial", "mac", "vendor", "model", "firmware", "address",
	"read_at", "total", "black", "colour", "counters", "supplies", "status", "clock_ahead",
	"unreported",
}

// copyStagingReads starts the COPY of copyStaging (what pq.CopyIn built;
// the names need no quoting).
var copyStagingReads = "COPY staging_reads (" + strings.Join(stagingColumns, ", ") + ") FROM STDIN"

// upsertStagedDevices creates or updates each device of the staged reads
// once, from its newest read on time (see deviceUpdate); first_seen of a
// new device is its oldest. A read stamped ahead counts as seen at $1, the
// collector's clock. ORDER BY device_key fixes the order its rows are
// locked in.
const upsertStagedDevices = `INSERT INTO devices (device_key, serial, mac, vendor, model, firmware, address, agent_id, first_seen, last_seen, last_read_at)
SELECT DISTINCT ON (device_key) device_key, serial, mac, vendor, model, firmware, address, agent_id,
       min(CASE WHEN clock_ahead THEN $1::timestamptz ELSE read_at END) OVER (PARTITION BY device_key),
       CASE WHEN clock_ahead THEN $1::timestamptz ELSE read_at END,
       CASE WHEN clock_ahead THEN NULL ELSE read_at END
FROM staging_reads
ORDER BY device_key, clock_ahead, staging_reads.read_at DESC` + deviceUpdate

// insertStagedReads files the staged reads and counts those added per
// batch.
const insertStagedReads = `WITH added AS (
    INSERT INTO meter_reads (device_id, read_at, agent_id, seq, total, black, colour, counters, supplies, status, stored_at, clock_ahead, unreported)
    SELECT d.id, s.read_at, s.agent_id, s.seq, s.total, s.black, s.colour, s.counters, s.supplies, s.status, $1, s.clock_ahead, s.unreported
    FROM staging_reads s JOIN devices d ON d.device_key = s.device_key
    ON CONFLICT (device_id, read_at) DO NOTHING
    RETURNING agent_id, seq)
SELECT agent_id, seq, count(*) FROM added GROUP BY agent_id, seq`

func (s *Store) copyReads(ctx context.Context, tx *sqlx.Tx, batches []pendingBatch, storedAt time.Time) (map[batchKey]int, error) {
	if _, err := tx.ExecContext(ctx, createStaging); err != nil {
		return nil, fmt.Errorf("create staging table: %w", err)
	}
	if err := copyStaging(ctx, tx, batches, storedAt); err != nil {
		return nil, fmt.Errorf("copy reads: %w", err)
	}
	if _, err := tx.ExecContext(ctx, upsertStagedDevices, storedAt); err != nil {
		return nil, fmt.Errorf("upsert devices: %w", err)
	}
	rows, err := tx.QueryxContext(ctx, insertStagedReads, storedAt)
	if err != nil {
		return nil, fmt.Errorf("insert meter reads: %w", err)
	}
	defer rows.Close()
	stored := make(map[batchKey]int, len(batches))
	for rows.Next() {
		var k batchKey
		var n int
		if err := rows.Scan(&k.agentID, &k.seq, &n); err != nil {
			return nil, fmt.Errorf("insert meter reads: %w", err)
		}
		stored[k] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert meter reads: %w", err)
	}
	if err := s.recordCounterResets(ctx, tx, stagedReadsPostgres, nil, storedAt); err != nil {
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
			_, err := stmt.ExecContext(ctx, b.id.agentID, b.id.seq, r.key, r.serial, r.mac, r.vendor, r.model, r.firmware, r.address,
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
