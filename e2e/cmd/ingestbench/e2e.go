package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/lib/pq"

	"github.com/meterline/meterline/e2e/fleetsim"
	"github.com/meterline/meterline/shared/redact"
)

// endToEnd runs the fleet against the running collector and checks that
// the database holds every read.
func endToEnd(ctx context.Context, o options, fleet *fleetsim.Fleet, m *meter, log *slog.Logger) (phaseResult, error) {
	res := phaseResult{name: nameE2E}
	db, err := sql.Open("postgres", o.dbURL)
	if err != nil {
		return res, fmt.Errorf("open %s: %w", redact.URL(o.dbURL), err)
	}
	defer db.Close()
	agents := pq.Array(fleet.AgentIDs())
	countReads := func() (int, error) {
		var n int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM meter_reads WHERE agent_id = ANY($1)`, agents).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("count meter_reads: %w", err)
		}
		return n, nil
	}
	if n, err := countReads(); err != nil {
		return res, err
	} else if n > 0 {
		return res, fmt.Errorf("meter_reads already holds %d reads of agents %s*: use a fresh database or another -prefix", n, o.prefix)
	}

	// Progress in the log, for a run that takes minutes.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				p := fleet.Progress()
				log.Info("end to end", "acked_batches", p.AckedBatches, "of", p.TotalBatches, "acked_reads", p.AckedReads, "resent", p.Resent)
			}
		}
	}()

	if err := fleet.Connect(ctx); err != nil {
		return res, err
	}
	m.start()
	r, runErr := fleet.Run(ctx)
	m.stop()
	res.reads, res.bytes, res.elapsed = r.Reads, r.Bytes, r.Duration
	res.note = fmt.Sprintf("first publish to last acknowledgement; %d batches published, %d of them re-sent after %s", r.Published, r.Resent, o.ackTimeout)
	if runErr != nil {
		return res, runErr
	}

	// Acknowledgements go out after the commit: every read is in by now.
	n, err := countReads()
	if err != nil {
		return res, err
	}
	var batches int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM read_batches WHERE agent_id = ANY($1)`, agents).Scan(&batches); err != nil {
		return res, fmt.Errorf("count read_batches: %w", err)
	}
	want := fleet.TotalReads()
	res.note += fmt.Sprintf("; verified: meter_reads holds %s reads, read_batches %s batches", group(n), group(batches))
	if n != want || batches != len(fleet.Batches()) {
		return res, fmt.Errorf("the database holds %d reads in %d batches, want %d in %d", n, batches, want, len(fleet.Batches()))
	}
	return res, nil
}
