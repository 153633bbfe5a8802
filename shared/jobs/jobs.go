// Package jobs runs scheduled jobs once across replicas, surviving
// restarts, on the job_leases table (schema 0011) of the database the
// replicas share.
//
// Every tick a Scheduler tries to claim each of its jobs with one
// conditional upsert: the job is due when it last finished at least its
// interval ago (or never ran) and no lease on it is live. The replica
// whose statement wins holds the lease until lease_until, runs the job and
// records when it finished and how (last_error). The others' statements
// change nothing. When a job is next due is read from the table, never
// kept in memory, so a restarted replica does not run a job early; a
// replica that dies mid-run leaves a lease that expires, and the job is
// then due again. A run is cancelled when its lease runs out, so that it
// never overlaps the run of the replica that may then take the job over.
//
// The guarantee is at most one run at a time per job and one run per due
// time, as long as runs end within their lease; a job whose run was cut
// short (a crash, the lease) runs again in full, so jobs must be safe to
// repeat (idempotent), as the database's own work usually is.
//
// It runs on database/sql and imports no driver: callers pass the *sql.DB
// and its dialect.
package jobs

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/meterline/meterline/shared/schema"
)

// Job is work to run every so often, once across replicas.
type Job struct {
	// Name identifies the job across replicas and restarts
	// (job_leases.name).
	Name string
	// Every is how long after a run finished the next is due.
	Every time.Duration
	// Lease is how long a run may take (default DefaultLease): another
	// replica may take the job over once it has passed, and the run's
	// context is cancelled then.
	Lease time.Duration
	// Run does the work. at is the scheduler's clock when the run was
	// claimed: a job computes its cut-offs from it, not from time.Now.
	Run func(ctx context.Context, at time.Time) error
}

// Defaults.
const (
	DefaultLease = 10 * time.Minute
	DefaultTick  = time.Minute
)

// Config tunes a Scheduler. Zero values take the defaults.
type Config struct {
	// Owner names this replica in job_leases.owner (default
	// host-pid-random: unique per process, so a restarted replica is a
	// new owner and never takes its predecessor's lease for its own).
	Owner string
	// Tick is how often due jobs are looked for (default DefaultTick).
	Tick time.Duration
	// Now is the clock of leases and due times (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Scheduler runs jobs on a database.
type Scheduler struct {
	db      *sql.DB
	dialect schema.Dialect
	jobs    []Job
	cfg     Config
}

// New returns a scheduler of the jobs on db, a database of dialect d
// migrated to schema 0011 or later.
func New(db *sql.DB, d schema.Dialect, cfg Config, jobs ...Job) (*Scheduler, error) {
	jobs = slices.Clone(jobs) // defaults are filled in below
	seen := map[string]bool{}
	for i, j := range jobs {
		switch {
		case j.Name == "":
			return nil, fmt.Errorf("jobs: job %d has no name", i)
		case seen[j.Name]:
			return nil, fmt.Errorf("jobs: job %q given twice", j.Name)
		case j.Every <= 0:
			return nil, fmt.Errorf("jobs: job %q: interval %v is not positive", j.Name, j.Every)
		case j.Run == nil:
			return nil, fmt.Errorf("jobs: job %q has nothing to run", j.Name)
		}
		seen[j.Name] = true
		if j.Lease <= 0 {
			jobs[i].Lease = DefaultLease
		}
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		cfg.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{db: db, dialect: d, jobs: jobs, cfg: cfg}, nil
}

// Run runs the due jobs at once and then every tick, until ctx ends. A
// round that fails is logged and the next tick tries again.
func (s *Scheduler) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		if _, err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("jobs: round failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunDue claims each job that is due and runs it, one after the other,
// and returns the names of those it ran. A job's own error is recorded
// with it (last_error) and logged, not returned; the error returned is the
// database's.
func (s *Scheduler) RunDue(ctx context.Context) ([]string, error) {
	var ran []string
	var errs []error
	for _, j := range s.jobs {
		if ctx.Err() != nil {
			break
		}
		started, ok, err := s.claim(ctx, j)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue
		}
		ran = append(ran, j.Name)
		runErr := s.run(ctx, j, started)
		if err := s.finish(ctx, j, started, runErr); err != nil {
			errs = append(errs, err)
		}
	}
	return ran, errors.Join(errs...)
}

// claimLease takes the job's lease when the job is due: never run, or
// last finished at or before the cut-off, and no lease live at now. It
// returns the name when it did. One statement, so two replicas claiming at
// once cannot both win: on PostgreSQL the loser's upsert waits for the
// winner's row and finds its WHERE false; SQLite has one writer.
const claimLease = `INSERT INTO job_leases (name, owner, lease_until, last_started_at) VALUES (?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET
    owner = excluded.owner, lease_until = excluded.lease_until, last_started_at = excluded.last_started_at
WHERE (job_leases.lease_until IS NULL OR job_leases.lease_until <= ?)
  AND (job_leases.last_finished_at IS NULL OR job_leases.last_finished_at <= ?)
RETURNING name`

// dbTime is a time as the table keeps it: UTC at PostgreSQL's microsecond
// precision, so both dialects compare the same instants.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func (s *Scheduler) claim(ctx context.Context, j Job) (time.Time, bool, error) {
	now := dbTime(s.cfg.Now())
	var name string
	err := s.db.QueryRowContext(ctx, schema.Rebind(s.dialect, claimLease),
		j.Name, s.cfg.Owner, now.Add(j.Lease), now, now, now.Add(-j.Every)).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("jobs: claim %s: %w", j.Name, err)
	}
	return now, true, nil
}

// run runs the job within its lease; a panic is the run's error.
func (s *Scheduler) run(ctx context.Context, j Job, at time.Time) (err error) {
	ctx, cancel := context.WithTimeout(ctx, j.Lease)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	s.cfg.Logger.Debug("jobs: run", "job", j.Name)
	return j.Run(ctx, at)
}

// finish records the run's end and outcome and gives the lease back,
// unless another replica took the job over (the lease ran out): that run
// owns the row now. A run cut short because the scheduler is stopping
// (ctx ended) has not finished: the lease is given back without a finish
// time, so the job is due again at once, on another replica or after the
// restart.
func (s *Scheduler) finish(ctx context.Context, j Job, started time.Time, runErr error) error {
	var lastError any
	if runErr != nil {
		msg := runErr.Error()
		if len(msg) > 1000 {
			msg = msg[:1000]
		}
		lastError = msg
		s.cfg.Logger.Warn("jobs: run failed", "job", j.Name, "err", msg)
	}
	finished := `last_finished_at = ?`
	args := []any{dbTime(s.cfg.Now())}
	if ctx.Err() != nil {
		finished, args = `last_finished_at = last_finished_at`, nil
	}
	args = append(args, lastError, j.Name, s.cfg.Owner, started)
	// Recorded even though ctx has ended: the run is over either way.
	res, err := s.db.ExecContext(context.WithoutCancel(ctx), schema.Rebind(s.dialect, `UPDATE job_leases
SET lease_until = NULL, `+finished+`, last_error = ?
WHERE name = ? AND owner = ? AND last_started_at = ?`), args...)
	if err != nil {
		return fmt.Errorf("jobs: record the end of %s: %w", j.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("jobs: record the end of %s: %w", j.Name, err)
	} else if n == 0 {
		s.cfg.Logger.Warn("jobs: lease lost before the run ended", "job", j.Name)
	}
	return nil
}

// Lease is a job's row of job_leases.
type Lease struct {
	Name           string
	Owner          sql.NullString
	LeaseUntil     sql.NullTime
	LastStartedAt  sql.NullTime
	LastFinishedAt sql.NullTime
	LastError      sql.NullString
}

// NextRun is when the job is next due by its lease row: at once when it
// never ran, else its interval after it last finished, but not before a
// live lease has run out.
func (l Lease) NextRun(every time.Duration) time.Time {
	var next time.Time
	if l.LastFinishedAt.Valid {
		next = l.LastFinishedAt.Time.Add(every)
	}
	if l.LeaseUntil.Valid && l.LeaseUntil.Time.After(next) {
		next = l.LeaseUntil.Time
	}
	return next
}

// LeaseOf returns the job's lease row (sql.ErrNoRows, wrapped, when the
// job never ran): for operators and tests.
func LeaseOf(ctx context.Context, db *sql.DB, d schema.Dialect, name string) (Lease, error) {
	var l Lease
	err := db.QueryRowContext(ctx, schema.Rebind(d, `SELECT name, owner, lease_until, last_started_at, last_finished_at, last_error
FROM job_leases WHERE name = ?`), name).Scan(&l.Name, &l.Owner, &l.LeaseUntil, &l.LastStartedAt, &l.LastFinishedAt, &l.LastError)
	if err != nil {
		return Lease{}, fmt.Errorf("jobs: lease of %s: %w", name, err)
	}
	for _, t := range []*sql.NullTime{&l.LeaseUntil, &l.LastStartedAt, &l.LastFinishedAt} {
		t.Time = t.Time.UTC()
	}
	return l, nil
}
