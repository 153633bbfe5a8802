// Package schedule is what the portal runs on a schedule, once across its
// replicas and surviving restarts (shared/jobs): the e-mail outbox's
// housekeeping now, and, with issue 16, period closes and reminders (see
// Jobs).
package schedule

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/shared/jobs"
	"github.com/meterline/meterline/shared/schema"
)

// Config says what the portal's jobs do.
type Config struct {
	// MailRetention is how long a sent e-mail stays in the outbox; 0
	// keeps them all (the housekeeping job is then not scheduled).
	MailRetention time.Duration
	Logger        *slog.Logger
}

// Job names (job_leases.name): renaming one makes a new job, due at once.
const (
	JobMailPrune = "mail-prune-sent"
)

// MailPruneEvery is how often sent e-mails past their retention are
// deleted.
const MailPruneEvery = 24 * time.Hour

// Jobs returns the portal's jobs on db, a database of dialect d.
func Jobs(db *sql.DB, d schema.Dialect, cfg Config) []jobs.Job {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var js []jobs.Job
	if cfg.MailRetention > 0 {
		js = append(js, jobs.Job{Name: JobMailPrune, Every: MailPruneEvery, Run: func(ctx context.Context, at time.Time) error {
			n, err := mail.PruneSent(ctx, db, d, at.Add(-cfg.MailRetention))
			if n > 0 {
				logger.Info("sent e-mails pruned", "deleted", n, "retention", cfg.MailRetention.String())
			}
			return err
		}})
	}
	// Issue 16 adds its jobs here, a jobs.Job each: the period closes
	// ({Name: "period-close", Every: time.Hour, Run: …}) and the meter
	// read reminders. Each run should find for itself what is left to do
	// as of at (the periods ended and not yet closed, the reminders due
	// and not yet enqueued) and do it in transactions that record it
	// done: a run missed while every replica was down is then caught up
	// by the next, and a run repeated after a crash changes nothing.
	return js
}

// New returns the scheduler of the portal's jobs on db, nil when there is
// none to run.
func New(db *sql.DB, d schema.Dialect, cfg Config, jc jobs.Config) (*jobs.Scheduler, error) {
	js := Jobs(db, d, cfg)
	if len(js) == 0 {
		return nil, nil
	}
	if jc.Logger == nil {
		jc.Logger = cfg.Logger
	}
	return jobs.New(db, d, jc, js...)
}
