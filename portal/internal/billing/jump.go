package billing

import (
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/meter"
)

// IsJump reports whether the usage from the real read from to the read to
// is a jump by the rule, on any of the meters: at least r.Floor pages,
// and a daily rate over (from, to] above r.Factor times the meter's usual
// daily usage (usual). A meter whose usual usage is unknown is not
// judged. It is the one jump rule: an agent's read at the period close
// and a read typed in on the portal (CheckManualRead) are judged by it,
// on the same history.
func (r JumpRule) IsJump(from, to Reading, kinds []domain.CounterKind, h History) bool {
	elapsed := max(days(to.At.Sub(from.At)), 1)
	for _, k := range kinds {
		a, ok1 := from.Meters.Get(k)
		b, ok2 := to.Meters.Get(k)
		if !ok1 || !ok2 {
			continue
		}
		usage := h.Usage(k, meter.Point{At: from.At, Value: a}, meter.Point{At: to.At, Value: b})
		if usage < r.Floor {
			continue
		}
		if usual, ok := r.usual(h, k, from.At); ok && float64(usage)/elapsed > r.Factor*usual {
			return true
		}
	}
	return false
}

// usual is meter k's usual daily usage before at: its usage over the
// device's real reads of the r.History before at, restarting at resets,
// divided by the days they span. The reads reach back to the last one
// at or before the start of r.History, so that reads further apart than
// r.History (a person's, once a quarter) still give a rate. false: the
// reads span less than r.MinSpan (or nothing), too little to judge by.
func (r JumpRule) usual(h History, k domain.CounterKind, at time.Time) (float64, bool) {
	start := at.Add(-r.History)
	pts := h.between(k, start, at)
	if p, ok := h.lastUpTo(k, start); ok && (len(pts) == 0 || p.At.Before(pts[0].At)) {
		pts = append([]meter.Point{p}, pts...)
	}
	s := span(pts)
	if s <= 0 || s < r.MinSpan {
		return 0, false
	}
	return float64(meter.Usage(pts, h.Resets[k])) / days(s), true
}
