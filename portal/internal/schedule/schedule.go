// Package schedule is what the portal runs on a schedule, once across its
// replicas and surviving restarts (shared/jobs): the e-mail outbox's
// housekeeping, and the billing reads' period close and meter-read
// campaigns (issue 16).
package schedule

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/jobs"
	"github.com/meterline/meterline/shared/schema"
)

// Config says what the portal's jobs do.
type Config struct {
	// MailRetention is how long a sent e-mail stays in the outbox; 0
	// keeps them all (the housekeeping job is then not scheduled).
	MailRetention time.Duration
	// Billing runs the period close and the meter-read campaigns when
	// set (Billing.Store not nil).
	Billing Billing
	// PruneSignIn, when set, deletes expired sessions, one-time links
	// and old sign-in attempts, every SignInPruneEvery.
	PruneSignIn func(ctx context.Context) error
	Logger      *slog.Logger
}

// Billing says how the billing jobs run: on a store (whose billing
// configuration they follow), the e-mails linking to BaseURL +
// store.MeterReadsPath, every Every (BillingEvery when 0).
type Billing struct {
	Store   *store.Store
	BaseURL string
	Every   time.Duration
}

// Job names (job_leases.name): renaming one makes a new job, due at once.
const (
	JobMailPrune     = "mail-prune-sent"
	JobSignInPrune   = "sign-in-prune"
	JobPeriodClose   = "billing-period-close"
	JobReadCampaigns = "billing-read-campaigns"
)

// BillingEvery is how often the billing jobs run by default: a period
// closes, a reminder goes and a campaign closes within the hour it is due.
const BillingEvery = time.Hour

// MailPruneEvery is how often sent e-mails past their retention are
// deleted.
const MailPruneEvery = 24 * time.Hour

// SignInPruneEvery is how often expired sign-in data is deleted.
const SignInPruneEvery = 10 * time.Minute

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
	if cfg.PruneSignIn != nil {
		js = append(js, jobs.Job{Name: JobSignInPrune, Every: SignInPruneEvery, Run: func(ctx context.Context, _ time.Time) error {
			return cfg.PruneSignIn(ctx)
		}})
	}
	// Each billing run finds for itself what is left to do as of at (the
	// periods ended and not yet closed, the reminders due and not yet
	// sent) and does it in transactions that record it done: a run missed
	// while every replica was down is caught up by the next, and a run
	// repeated after a crash changes nothing.
	if b := cfg.Billing; b.Store != nil {
		every := b.Every
		if every <= 0 {
			every = BillingEvery
		}
		js = append(js,
			jobs.Job{Name: JobPeriodClose, Every: every, Run: func(ctx context.Context, at time.Time) error {
				rep, err := b.Store.ClosePeriods(ctx, at, b.BaseURL)
				if rep != (store.CloseReport{}) {
					logger.Info("billing periods closed", "agent_reads", rep.AgentReads, "campaigns", rep.Campaigns, "estimates", rep.Estimates, "invitations", rep.Invitations)
				}
				return err
			}},
			jobs.Job{Name: JobReadCampaigns, Every: every, Run: func(ctx context.Context, at time.Time) error {
				rep, err := b.Store.RunCampaigns(ctx, at, b.BaseURL)
				if rep != (store.CampaignReport{}) {
					logger.Info("meter-read campaigns run", "left_for_agent", rep.Agent, "read", rep.Read, "closed_estimated", rep.Closed, "reminders", rep.Reminders)
				}
				return err
			}})
	}
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
