package billing

import (
	"slices"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/meter"
)

// History is what is known of a device's meters: its real reads (an
// agent's on time, a person's), per meter in time order, and the counter
// resets the collector recorded (the times of the reads found lower than
// the read before them, collector store resets.go).
type History struct {
	Points map[domain.CounterKind][]meter.Point
	Resets map[domain.CounterKind][]time.Time
}

// NewHistory builds a history from reads in any order; two reads at one
// time are one point (the first given wins).
func NewHistory(reads []Reading, resets map[domain.CounterKind][]time.Time) History {
	h := History{Points: map[domain.CounterKind][]meter.Point{}, Resets: resets}
	if h.Resets == nil {
		h.Resets = map[domain.CounterKind][]time.Time{}
	}
	for _, k := range Kinds {
		var pts []meter.Point
		for _, r := range reads {
			if v, ok := r.Meters.Get(k); ok {
				pts = append(pts, meter.Point{At: r.At, Value: v})
			}
		}
		slices.SortStableFunc(pts, func(a, b meter.Point) int { return a.At.Compare(b.At) })
		pts = slices.CompactFunc(pts, func(a, b meter.Point) bool { return a.At.Equal(b.At) })
		if len(pts) > 0 {
			h.Points[k] = pts
		}
	}
	return h
}

// Has reports whether any read shows meter k.
func (h History) Has(k domain.CounterKind) bool { return len(h.Points[k]) > 0 }

// between returns meter k's points in [from, to].
func (h History) between(k domain.CounterKind, from, to time.Time) []meter.Point {
	var out []meter.Point
	for _, p := range h.Points[k] {
		if !p.At.Before(from) && !p.At.After(to) {
			out = append(out, p)
		}
	}
	return out
}

// lastUpTo returns meter k's latest point at or before t.
func (h History) lastUpTo(k domain.CounterKind, t time.Time) (meter.Point, bool) {
	pts := h.Points[k]
	for i := len(pts) - 1; i >= 0; i-- {
		if !pts[i].At.After(t) {
			return pts[i], true
		}
	}
	return meter.Point{}, false
}

// firstAfter returns meter k's earliest point after t.
func (h History) firstAfter(k domain.CounterKind, t time.Time) (meter.Point, bool) {
	for _, p := range h.Points[k] {
		if p.At.After(t) {
			return p, true
		}
	}
	return meter.Point{}, false
}

// ResetIn reports whether a reset of meter k was recorded in (from, to].
func (h History) ResetIn(k domain.CounterKind, from, to time.Time) bool {
	for _, t := range h.Resets[k] {
		if t.After(from) && !t.After(to) {
			return true
		}
	}
	return false
}

// AnyResetIn reports whether a reset of one of the meters was recorded in
// (from, to].
func (h History) AnyResetIn(kinds []domain.CounterKind, from, to time.Time) bool {
	for _, k := range kinds {
		if h.ResetIn(k, from, to) {
			return true
		}
	}
	return false
}

// Usage is how far meter k went from the point from to the point to (the
// ends need not be in the history: a person's read, an earlier billing
// read), through the history's points between them, restarting at
// recorded resets and never negative (meter.Usage).
func (h History) Usage(k domain.CounterKind, from, to meter.Point) int64 {
	pts := []meter.Point{from}
	for _, p := range h.Points[k] {
		if p.At.After(from.At) && p.At.Before(to.At) {
			pts = append(pts, p)
		}
	}
	pts = append(pts, to)
	return meter.Usage(pts, h.Resets[k])
}

// span is the time from the first to the last of the points.
func span(pts []meter.Point) time.Duration {
	if len(pts) < 2 {
		return 0
	}
	return pts[len(pts)-1].At.Sub(pts[0].At)
}

// days is d in days, fractions included.
func days(d time.Duration) float64 { return float64(d) / float64(Day) }
