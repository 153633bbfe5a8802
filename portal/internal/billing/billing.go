// Package billing is the arithmetic of billing meter reads (issue 16,
// DESIGN "Billing reads"), with no SQL: a contract's billing periods, the
// tolerance window around a period's end, which agent read a period is
// billed on, the estimate of a device nobody read, the regularisation
// that follows an estimate, and the jumps worth a second look. The
// portal's store feeds it what the database holds and writes what it
// decides (store/billing.go); the schedule runs the store's period close
// and campaign jobs.
//
// All times are UTC. A period is a range of calendar dates, both
// included; it ends at midnight UTC after its last day (Period.EndsAt),
// and that instant is what "the period end" means below.
package billing

import (
	"fmt"
	"time"
)

// Day is 24 hours: periods, windows and usage rates count in UTC days.
const Day = 24 * time.Hour

// Config is what billing may be tuned by. DefaultConfig gives the values
// of seed 003 and issue 16.
type Config struct {
	// Window is the tolerance window around a period's end: an agent
	// read in it can be the period's billing read.
	Window Window
	// Reminders are when the three reminders of a manual-read campaign
	// go, counted from the invitation (7, 14 and 21 days by default):
	// each is due that long after the invitation and no sooner than the
	// gap between the two offsets after the reminder before it, so that a
	// job that ran late still spaces them out.
	Reminders [3]time.Duration
	// CloseAfter is how long after the third reminder the campaign closes
	// and the period is estimated (seed 003: 48 hours).
	CloseAfter time.Duration
	// MinHistory is how much read history (first to last real read of a
	// meter) an estimate from the device's own usage needs; with less,
	// the contract's expected volume is used.
	MinHistory time.Duration
	// DefaultColourShare is the share of colour pages assumed when the
	// contract's expected volume must be split between black and colour
	// and the device's reads show no usage to split it by (printersim's
	// ColorPercent: a quarter).
	DefaultColourShare float64
	// Jump says when a period's usage is flagged as a jump.
	Jump JumpRule
	// EstimatesInARow is how many periods in a row a device may be
	// estimated before its estimate waits for the back office (flag
	// repeated_estimate, review pending): an estimate is a guess, and a
	// third one running means the customer is not reading and somebody
	// should call them. 0 never holds one.
	EstimatesInARow int
}

// JumpRule flags a read whose usage since the last real read is far
// beyond the device's history: more than Factor times the daily average
// of the History before that read (back to the read before it, for reads
// a quarter apart), over the period, and at least Floor pages. A history
// of fewer than MinSpan days judges nothing. IsJump applies it to agent
// and typed reads alike.
type JumpRule struct {
	Factor  float64
	Floor   int64
	History time.Duration
	MinSpan time.Duration
}

// DefaultConfig is billing as issue 16 and seed 003 describe it.
func DefaultConfig() Config {
	return Config{
		Window:             Window{Before: 10 * Day, After: 6 * Day},
		Reminders:          [3]time.Duration{7 * Day, 14 * Day, 21 * Day},
		CloseAfter:         48 * time.Hour,
		MinHistory:         90 * Day,
		DefaultColourShare: 0.25,
		Jump:               JumpRule{Factor: 3, Floor: 1000, History: 90 * Day, MinSpan: 30 * Day},
		EstimatesInARow:    3,
	}
}

// Check says what is wrong with a configuration.
func (c Config) Check() error {
	switch {
	case c.Window.Before < 0 || c.Window.After < 0:
		return fmt.Errorf("billing: the tolerance window %v before, %v after is negative", c.Window.Before, c.Window.After)
	case c.Reminders[0] <= 0 || c.Reminders[1] <= c.Reminders[0] || c.Reminders[2] <= c.Reminders[1]:
		return fmt.Errorf("billing: reminders %v: want three increasing positive delays after the invitation", c.Reminders)
	case c.CloseAfter < 0:
		return fmt.Errorf("billing: a campaign closes %v after the third reminder: negative", c.CloseAfter)
	case c.MinHistory <= 0:
		return fmt.Errorf("billing: minimum history %v is not positive", c.MinHistory)
	case c.DefaultColourShare < 0 || c.DefaultColourShare > 1:
		return fmt.Errorf("billing: default colour share %v is not between 0 and 1", c.DefaultColourShare)
	case c.Jump.Factor <= 1 || c.Jump.Floor < 0 || c.Jump.History <= 0 || c.Jump.MinSpan < 0:
		return fmt.Errorf("billing: jump rule %+v: want a factor above 1 and a positive history", c.Jump)
	case c.EstimatesInARow < 0:
		return fmt.Errorf("billing: %d estimates in a row: negative", c.EstimatesInARow)
	}
	return nil
}

// ReminderDue reports whether reminder n (1 to 3) of a campaign invited
// at invitedAt, whose reminder n-1 went at previousAt (zero for the
// first), is due at now.
func (c Config) ReminderDue(n int, invitedAt, previousAt, now time.Time) bool {
	if n < 1 || n > 3 {
		return false
	}
	due := invitedAt.Add(c.Reminders[n-1])
	if n > 1 {
		due = later(due, previousAt.Add(c.Reminders[n-1]-c.Reminders[n-2]))
	}
	return !now.Before(due)
}

// RepeatedEstimate reports whether an estimate that follows before
// estimated periods in a row is one too many (EstimatesInARow).
func (c Config) RepeatedEstimate(before int) bool {
	return c.EstimatesInARow > 0 && before+1 >= c.EstimatesInARow
}

// ClosesAt is when a campaign whose third reminder went at thirdAt closes.
func (c Config) ClosesAt(thirdAt time.Time) time.Time { return thirdAt.Add(c.CloseAfter) }

// Lifetime is how long a campaign lasts when every reminder goes on time:
// the campaign of a device nobody can be invited for (no contact) closes
// that long after it opened.
func (c Config) Lifetime() time.Duration { return c.Reminders[2] + c.CloseAfter }

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
