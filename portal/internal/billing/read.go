package billing

import (
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meterline/meterline/shared/domain"
)

// MeterValues are a read's billing meters; nil is a meter the read does
// not have (or the contract does not bill), never zero. (Meters, in
// manual.go, says which meters a customer types in.)
type MeterValues struct {
	Black, Colour, Total *int64
}

// Kinds are the meters billing knows, in the order MeterValues lists them.
var Kinds = []domain.CounterKind{domain.CounterBlack, domain.CounterColour, domain.CounterTotal}

func (m *MeterValues) ptr(k domain.CounterKind) **int64 {
	switch k {
	case domain.CounterBlack:
		return &m.Black
	case domain.CounterColour:
		return &m.Colour
	case domain.CounterTotal:
		return &m.Total
	}
	return nil
}

// Get returns meter k, false when the read does not have it.
func (m MeterValues) Get(k domain.CounterKind) (int64, bool) {
	p := m.ptr(k)
	if p == nil || *p == nil {
		return 0, false
	}
	return **p, true
}

// Set sets meter k.
func (m *MeterValues) Set(k domain.CounterKind, v int64) {
	if p := m.ptr(k); p != nil {
		*p = &v
	}
}

// Only keeps the meters the contract bills.
func (m MeterValues) Only(t Terms) MeterValues {
	var out MeterValues
	for _, k := range t.Billed() {
		if v, ok := m.Get(k); ok {
			out.Set(k, v)
		}
	}
	return out
}

// Any reports whether the read has one of the meters.
func (m MeterValues) Any(kinds []domain.CounterKind) bool {
	for _, k := range kinds {
		if _, ok := m.Get(k); ok {
			return true
		}
	}
	return false
}

// Reading is a read at a time: an agent's, a person's or an estimate.
type Reading struct {
	At     time.Time
	Meters MeterValues
}

// AgentRead is a read an agent reported, as the collector stored it.
type AgentRead struct {
	Reading
	// ClockAhead: stamped ahead of the collector's clock
	// (meter_reads.clock_ahead); its time places it nowhere.
	ClockAhead bool
}

// Window is the tolerance window around a period's end: from Before
// before it to After after it, both edges included.
type Window struct {
	Before, After time.Duration
}

// Bounds are the first and last instants of the window around end.
func (w Window) Bounds(end time.Time) (from, to time.Time) {
	return end.Add(-w.Before), end.Add(w.After)
}

// Contains reports whether t is in the window around end.
func (w Window) Contains(end, t time.Time) bool {
	from, to := w.Bounds(end)
	return !t.Before(from) && !t.After(to)
}

// Select picks the billing read of a period ending at end among an
// agent's reads: the read in the window nearest end, the later of two as
// near; reads stamped ahead are left out, and so are reads with none of
// the meters billed. false: no read qualifies.
func (w Window) Select(reads []AgentRead, end time.Time, billed []domain.CounterKind) (AgentRead, bool) {
	var best AgentRead
	found := false
	for _, r := range reads {
		if r.ClockAhead || !w.Contains(end, r.At) || !r.Meters.Any(billed) {
			continue
		}
		if !found || nearer(r.At, best.At, end) {
			best, found = r, true
		}
	}
	return best, found
}

// nearer reports whether a is nearer end than b, or as near and later.
func nearer(a, b, end time.Time) bool {
	da, db := absDuration(a.Sub(end)), absDuration(b.Sub(end))
	return da < db || (da == db && a.After(b))
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// Where a billing read came from (billing_reads.source).
const (
	SourceAgent     = "agent"
	SourceManual    = "manual"
	SourceEstimated = "estimated"
)

// FlagCounterReset flags a billing read with a counter reset recorded
// between the previous billing read and it: usage across it is not this
// read minus the previous. (The other flags, shared with the manual
// reads, are in manual.go: lower_than_previous, photo, jump,
// regularises.)
const FlagCounterReset = "counter_reset"

// Review states of a billing read (billing_reads.review).
const (
	ReviewNone     = "none"
	ReviewPending  = "pending"
	ReviewAccepted = "accepted"
	ReviewRejected = "rejected"
)

// Flags are a billing read's flags.
type Flags []string

// ParseFlags reads billing_reads.flags.
func ParseFlags(s string) Flags { return Flags(strings.Fields(s)) }

// Has reports whether f has the flag.
func (f Flags) Has(flag string) bool { return slices.Contains(f, flag) }

// With returns f with the flag, added once.
func (f Flags) With(flag string) Flags {
	if f.Has(flag) {
		return f
	}
	return append(slices.Clip(f), flag)
}

// String writes the flags as stored: space-separated, in a fixed order
// (the order of the constants), unknown words last.
func (f Flags) String() string {
	order := []string{FlagLowerThanPrevious, FlagPhoto, FlagCounterReset, FlagJump, FlagRegularises, FlagRepeatedEstimate}
	out := make([]string, 0, len(f))
	for _, o := range order {
		if f.Has(o) {
			out = append(out, o)
		}
	}
	for _, w := range f {
		if !slices.Contains(order, w) && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return strings.Join(out, " ")
}

// Scan reads billing_reads.flags (database/sql's Scanner).
func (f *Flags) Scan(src any) error {
	switch v := src.(type) {
	case string:
		*f = ParseFlags(v)
	case []byte:
		*f = ParseFlags(string(v))
	case nil:
		*f = nil
	default:
		return fmt.Errorf("billing: flags from a %T", src)
	}
	return nil
}

// Value writes the flags as billing_reads.flags holds them (String).
func (f Flags) Value() (driver.Value, error) { return f.String(), nil }

// NeedsReview reports whether a read with these flags waits for the back
// office: a lower read (with its photo) or a jump.
func (f Flags) NeedsReview() bool { return f.Has(FlagLowerThanPrevious) || f.Has(FlagJump) }
