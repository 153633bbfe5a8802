package billing

import (
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/meter"
)

// IsJump reports whether the usage from the real read from to the read to
// is a jump by the rule, on any of the meters: at least r.Floor pages,
// and a daily rate over (from, to] above r.Factor times the daily average
// of the device's real reads in the r.History before from (usage
// restarting at resets). A meter whose reads before from span less than
// r.MinSpan is not judged.
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
		before := h.between(k, from.At.Add(-r.History), from.At)
		s := span(before)
		if s <= 0 || s < r.MinSpan {
			continue
		}
		avg := float64(meter.Usage(before, h.Resets[k])) / days(s)
		if float64(usage)/elapsed > r.Factor*avg {
			return true
		}
	}
	return false
}
