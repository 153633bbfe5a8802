package discover

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/meterline/meterline/agent/internal/netrange"
	"github.com/meterline/meterline/agent/internal/snmp"
)

// Plan is what the next sweep of a Schedule covers.
type Plan struct {
	Ranges      netrange.Ranges
	Credentials []snmp.Credential
	// Interval is the time between two sweeps; 0 sweeps once.
	Interval time.Duration
}

// Schedule is what a running discovery loop asks again and again, so that
// the ranges, the credentials and the interval can change without a
// restart.
//
// It is not poll.Schedule: a sweep interval of 0 means "once", a loop with
// no ranges waits for some, and a change of interval sweeps at once rather
// than planning again from the last start.
type Schedule struct {
	// Plan is asked before every sweep, and on every receive on Changed
	// for its Interval. An error (ranges that do not parse) is logged and
	// the loop waits as with no ranges.
	Plan func() (Plan, error)
	// A receive on Wake sweeps at once (a discover_now command). A nil
	// Wake never does.
	Wake <-chan struct{}
	// A receive on Changed says that the plan may have changed: a new
	// interval sweeps at once. (A new range list comes with a Wake of its
	// own.) A nil Changed never does.
	Changed <-chan struct{}
	// Found, when set, is called after every complete sweep with the
	// printers the inventory holds and those the sweep added.
	Found func(all, added []Device)
}

// RunSchedule sweeps the plan's ranges at once and then every interval
// (once only when it is 0), and again on Wake or when the interval
// changes, and updates inv with what each sweep finds, until ctx is
// cancelled. opts tune every sweep; the plan's credentials replace
// opts.Credentials.
func RunSchedule(ctx context.Context, dial snmp.DialFunc, inv *Inventory, s Schedule, opts Options, log *slog.Logger) {
	for {
		plan, err := s.Plan()
		if err != nil {
			// Local ranges are checked at load, remote ones when applied;
			// this is a safety net.
			log.Error("ranges not swept", "error", err.Error())
			plan.Ranges = netrange.Ranges{}
		} else if plan.Ranges.Len() > 0 {
			opts.Credentials = plan.Credentials
			sweepInto(ctx, dial, plan.Ranges, inv, s.Found, opts, log)
		}
		if ctx.Err() != nil {
			return
		}
		var next <-chan time.Time
		var timer *time.Timer
		if plan.Interval > 0 && plan.Ranges.Len() > 0 {
			timer = time.NewTimer(plan.Interval)
			next = timer.C
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case <-next:
				break wait
			case <-s.Wake:
				break wait
			case <-s.Changed:
				if now, _ := s.Plan(); now.Interval != plan.Interval {
					break wait
				}
			}
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// sweepInto runs one sweep of ranges, updates the inventory and tells
// found.
func sweepInto(ctx context.Context, dial snmp.DialFunc, ranges netrange.Ranges, inv *Inventory, found func(all, added []Device), opts Options, log *slog.Logger) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	started := now()
	log.Info("discovery sweep starting", "ranges", ranges.String(), "addresses", ranges.Len())
	res, err := Sweep(ctx, dial, ranges.All(), opts, log)
	if err != nil || ctx.Err() != nil {
		return // only cancellation stops a sweep
	}
	added, dropped := inv.Update(res, started)
	for _, d := range added {
		log.Info("printer discovered", "target", d.Address, "credential", d.Credential, "serial", d.Serial, "model", d.Model)
	}
	for _, d := range dropped {
		log.Info("printer no longer polled: not found by discovery and not read for a whole discovery cycle",
			"target", d.Address, "serial", d.Serial)
	}
	all := inv.Devices()
	log.Info("discovery sweep done", "summary", res.Summary(), "printers_polled", len(all),
		"duration_seconds", time.Since(started).Seconds())
	if found != nil {
		found(all, added)
	}
}

// Targets is the static targets, then the printers found that are not
// among them: what the poller reads.
func Targets(static []string, found []Device) []string {
	out := slices.Clone(static)
	for _, d := range found {
		if !slices.Contains(out, d.Address) {
			out = append(out, d.Address)
		}
	}
	return out
}
