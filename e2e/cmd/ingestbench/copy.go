package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/meterline/meterline/e2e/fleetsim"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/redact"
	"github.com/meterline/meterline/shared/wire"
)

// copyColumns are meter_reads' columns, in the order rows give them.
var copyColumns = []string{"device_id", "read_at", "agent_id", "seq", "total", "black", "colour", "counters", "supplies", "status", "stored_at"}

// meterRow is one read as the collector stores it in meter_reads.
type meterRow struct {
	deviceID             int64
	readAt               time.Time
	agentID              string
	seq                  int64
	total, black, colour sql.NullInt64
	counters, supplies   string
	status               sql.NullString
}

// rawDB copies every read of the fleet into a copy of meter_reads in a
// scratch schema and measures the reads/s.
func rawDB(ctx context.Context, o options, fleet *fleetsim.Fleet, m *meter, log *slog.Logger) (phaseResult, error) {
	res := phaseResult{name: nameDB}
	db, err := sql.Open("postgres", o.dbURL)
	if err != nil {
		return res, fmt.Errorf("open %s: %w", redact.URL(o.dbURL), err)
	}
	defer db.Close()
	db.SetMaxOpenConns(o.copyConns + 1)

	t0 := time.Now()
	rows, bytes, err := buildRows(fleet)
	if err != nil {
		return res, err
	}
	log.Info("rows built", "rows", len(rows), "seconds", time.Since(t0).Seconds())

	schema := fmt.Sprintf("ingestbench_raw_%d", os.Getpid())
	if err := createScratch(ctx, db, schema, fleet, rows); err != nil {
		dropScratch(db, schema, log)
		return res, err
	}
	defer dropScratch(db, schema, log)
	// Start every connection before the clock.
	conns := make([]*sql.Conn, o.copyConns)
	for i := range conns {
		if conns[i], err = db.Conn(ctx); err != nil {
			return res, fmt.Errorf("connect: %w", err)
		}
		defer conns[i].Close()
	}

	chunks := make(chan []meterRow)
	errs := make(chan error, len(conns))
	m.start()
	start := time.Now()
	for _, c := range conns {
		go func() {
			var err error
			for chunk := range chunks {
				if err == nil {
					err = copyChunk(ctx, c, schema, chunk)
				}
			}
			errs <- err
		}()
	}
feed:
	for i := 0; i < len(rows); i += o.copyRows {
		select {
		case chunks <- rows[i:min(i+o.copyRows, len(rows))]:
		case <-ctx.Done():
			break feed
		}
	}
	close(chunks)
	for range conns {
		err = errors.Join(err, <-errs)
	}
	res.elapsed = time.Since(start)
	m.stop() // before the connections close, with their server processes
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return res, err
	}
	var n int
	if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s.meter_reads", schema)).Scan(&n); err != nil {
		return res, fmt.Errorf("count copied rows: %w", err)
	}
	res.reads, res.bytes = n, bytes
	res.note = fmt.Sprintf("%d connections, %s rows per COPY transaction, into a copy of meter_reads (indexes, partitions, foreign key)",
		o.copyConns, group(o.copyRows))
	if n != len(rows) {
		return res, fmt.Errorf("%d rows copied, want %d", n, len(rows))
	}
	return res, nil
}

// buildRows turns every read of the fleet into its meter_reads row, JSON
// columns encoded as the collector encodes them, batch by batch in the
// order the batches arrive end to end (round by round, each round's
// agents in turn). It returns the rows and the bytes of their JSON.
func buildRows(fleet *fleetsim.Fleet) ([]meterRow, int64, error) {
	cfg := fleet.Config()
	perBatch := cfg.DevicesPerAgent
	rows := make([]meterRow, fleet.TotalReads())
	type job struct{ agent, round int }
	jobs := make(chan job)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		bytes    int64
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var n int64
			for j := range jobs {
				rb := fleet.ReadBatch(j.agent, j.round)
				base := (j.round*cfg.Agents + j.agent) * perBatch
				for d, r := range rb.Reads {
					row, err := newRow(int64(j.agent*perBatch+d+1), rb, r)
					if err != nil {
						mu.Lock()
						firstErr = errors.Join(firstErr, err)
						mu.Unlock()
						continue
					}
					n += int64(len(row.counters) + len(row.supplies) + len(row.status.String))
					rows[base+d] = row
				}
			}
			mu.Lock()
			bytes += n
			mu.Unlock()
		})
	}
	for r := range cfg.Rounds {
		for a := range cfg.Agents {
			jobs <- job{a, r}
		}
	}
	close(jobs)
	wg.Wait()
	return rows, bytes, firstErr
}

func newRow(deviceID int64, rb wire.ReadBatch, r wire.DeviceRead) (meterRow, error) {
	row := meterRow{deviceID: deviceID, readAt: r.ReadAt.UTC(), agentID: rb.AgentID, seq: int64(rb.Sequence)} //nolint:gosec // fleetsim numbers batches from 1: far below MaxInt64
	for _, c := range []struct {
		dst  *sql.NullInt64
		kind domain.CounterKind
	}{{&row.total, domain.CounterTotal}, {&row.black, domain.CounterBlack}, {&row.colour, domain.CounterColour}} {
		v, ok := r.Counter(c.kind)
		*c.dst = sql.NullInt64{Int64: v, Valid: ok}
	}
	counters, err := json.Marshal(r.Counters)
	if err != nil {
		return row, fmt.Errorf("encode counters: %w", err)
	}
	supplies, err := json.Marshal(r.Supplies)
	if err != nil {
		return row, fmt.Errorf("encode supplies: %w", err)
	}
	row.counters, row.supplies = string(counters), string(supplies)
	if r.Status != nil {
		status, err := json.Marshal(r.Status)
		if err != nil {
			return row, fmt.Errorf("encode status: %w", err)
		}
		row.status = sql.NullString{String: string(status), Valid: true}
	}
	return row, nil
}

// createScratch makes schema.meter_reads like the collector's meter_reads
// (columns, defaults, indexes; partitioned by read time if it is, with a
// default partition and one per month of the rows), and schema.devices
// holding every device id, which meter_reads refers to as the real one
// does.
func createScratch(ctx context.Context, db *sql.DB, schema string, fleet *fleetsim.Fleet, rows []meterRow) error {
	var exists, partitioned bool
	err := db.QueryRowContext(ctx, `SELECT to_regclass('meter_reads') IS NOT NULL,
		EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass('meter_reads'))`).Scan(&exists, &partitioned)
	if err != nil {
		return fmt.Errorf("inspect meter_reads: %w", err)
	}
	if !exists {
		return errors.New("no meter_reads table to copy the shape of: run meterline-collector -migrate on the database first")
	}
	devices := fleet.Config().Agents * fleet.Config().DevicesPerAgent
	stmts := []string{
		fmt.Sprintf(`DROP SCHEMA IF EXISTS %s CASCADE`, schema),
		fmt.Sprintf(`CREATE SCHEMA %s`, schema),
		fmt.Sprintf(`CREATE TABLE %s.devices (id bigint PRIMARY KEY)`, schema),
		fmt.Sprintf(`INSERT INTO %s.devices SELECT generate_series(1, %d)`, schema, devices),
	}
	if partitioned {
		stmts = append(stmts,
			fmt.Sprintf(`CREATE TABLE %s.meter_reads (LIKE meter_reads INCLUDING ALL) PARTITION BY RANGE (read_at)`, schema),
			fmt.Sprintf(`CREATE TABLE %s.meter_reads_default PARTITION OF %[1]s.meter_reads DEFAULT`, schema))
		first, last := rows[0].readAt, rows[0].readAt
		for _, r := range rows {
			first, last = minTime(first, r.readAt), maxTime(last, r.readAt)
		}
		for m := time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(last); m = m.AddDate(0, 1, 0) {
			stmts = append(stmts, fmt.Sprintf(`CREATE TABLE %[1]s.meter_reads_%[2]s PARTITION OF %[1]s.meter_reads FOR VALUES FROM ('%[3]s') TO ('%[4]s')`,
				schema, m.Format("2006_01"), m.Format(time.RFC3339), m.AddDate(0, 1, 0).Format(time.RFC3339)))
		}
	} else {
		stmts = append(stmts, fmt.Sprintf(`CREATE TABLE %s.meter_reads (LIKE meter_reads INCLUDING ALL)`, schema))
	}
	stmts = append(stmts,
		fmt.Sprintf(`ALTER TABLE %s.meter_reads ADD FOREIGN KEY (device_id) REFERENCES %[1]s.devices (id)`, schema),
		fmt.Sprintf(`ANALYZE %s.devices`, schema))
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("scratch schema: %s: %w", s, err)
		}
	}
	return nil
}

// dropScratch drops the scratch schema, then asks for a checkpoint, so
// that the next measurement does not pay for writing out this one's pages.
func dropScratch(db *sql.DB, schema string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := db.ExecContext(ctx, fmt.Sprintf(`DROP SCHEMA IF EXISTS %s CASCADE`, schema)); err != nil {
		log.Warn("drop the scratch schema", "schema", schema, "error", err)
	}
	if _, err := db.ExecContext(ctx, `CHECKPOINT`); err != nil {
		log.Info("no checkpoint after the raw copy (needs a superuser or pg_checkpoint)", "error", err)
	}
}

// copyChunk copies rows in one transaction.
func copyChunk(ctx context.Context, c *sql.Conn, schema string, rows []meterRow) error {
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, fmt.Sprintf("COPY %s.meter_reads (%s) FROM STDIN", pq.QuoteIdentifier(schema), strings.Join(copyColumns, ", ")))
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	defer stmt.Close() // on the error paths; closing twice is harmless
	storedAt := time.Now().UTC()
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r.deviceID, r.readAt, r.agentID, r.seq, r.total, r.black, r.colour,
			r.counters, r.supplies, r.status, storedAt); err != nil {
			return fmt.Errorf("copy row: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
