package billing

import (
	"slices"
	"sort"
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

// neverAboveZero reports whether no read shows meter k above 0 (none
// shows it at all, or each shows 0).
func (h History) neverAboveZero(k domain.CounterKind) bool {
	for _, p := range h.Points[k] {
		if p.Value > 0 {
			return false
		}
	}
	return true
}

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

// upTo is the history up to t: the points after it left out.
func (h History) upTo(t time.Time) History {
	out := History{Points: map[domain.CounterKind][]meter.Point{}, Resets: h.Resets}
	for k := range h.Points {
		if pts := h.between(k, time.Time{}, t); len(pts) > 0 {
			out.Points[k] = pts
		}
	}
	return out
}

// curve is a meter's usage through its real reads: at each read, the
// usage since the first (meter.Usage: restarting at resets, never
// negative); in time between two reads, linear; before the first and
// after the last, at the meter's average daily usage over them.
type curve struct {
	pts []meter.Point
	// usage[i] is the usage from pts[0] to pts[i].
	usage []float64
	// rate is the average usage a day, 0 with fewer than two reads.
	rate float64
}

func newCurve(pts []meter.Point, resets []time.Time) curve {
	cv := curve{pts: pts, usage: make([]float64, len(pts))}
	for i := 1; i < len(pts); i++ {
		cv.usage[i] = cv.usage[i-1] + float64(meter.Usage(pts[i-1:i+1], resets))
	}
	if s := cv.span(); s > 0 {
		cv.rate = cv.usage[len(pts)-1] / days(s)
	}
	return cv
}

// span is the time from the first read to the last.
func (cv curve) span() time.Duration { return span(cv.pts) }

// at is the usage from the first read to t (negative before it).
func (cv curve) at(t time.Time) float64 {
	n := len(cv.pts)
	if n == 0 {
		return 0
	}
	i := sort.Search(n, func(i int) bool { return cv.pts[i].At.After(t) })
	switch i {
	case 0:
		return -cv.rate * days(cv.pts[0].At.Sub(t))
	case n:
		return cv.usage[n-1] + cv.rate*days(t.Sub(cv.pts[n-1].At))
	}
	a, b := cv.pts[i-1], cv.pts[i]
	frac := float64(t.Sub(a.At)) / float64(b.At.Sub(a.At))
	return cv.usage[i-1] + frac*(cv.usage[i]-cv.usage[i-1])
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
