package billing

import (
	"math/big"

	"github.com/meterline/meterline/shared/domain"
)

// Regularise says what estimated billing reads become once a real read
// (an agent's or a person's) follows them. anchor is the device's last
// real billing read before the estimates, estimates are the estimated
// billing reads after it in time order (each at its period's end), real
// is the new read and h the device's real reads.
//
// For each meter the anchor and the real read both have, with no counter
// reset recorded between them: the usage from the anchor to the real read
// (the real value minus the anchor's, 0 when lower) is shared out in
// proportion to time, so estimate i becomes
//
//	anchor + usage × (end_i − anchor time) / (real time − anchor time)
//
// rounded down. The values then rise from the anchor to the real read:
// no period's usage is negative, neither the estimated periods' nor the
// real read's own. Another meter, or one across a reset, keeps the
// estimate's value (the real read carries FlagCounterReset then).
//
// The store keeps each estimate's row (superseded) and writes the result
// as the period's current read: source estimated, MethodSpread, the
// estimate's flags; the real read carries FlagRegularises. What was
// invoiced on the estimate is corrected on the next invoice: the revised
// estimated period and the real period each have a usage of zero or more.
func Regularise(anchor Reading, estimates []Reading, real Reading, h History) []Reading {
	out := make([]Reading, len(estimates))
	for i, e := range estimates {
		out[i] = Reading{At: e.At, Meters: e.Meters}
	}
	whole := real.At.Sub(anchor.At)
	if whole <= 0 {
		return out
	}
	for _, k := range Kinds {
		from, ok1 := anchor.Meters.Get(k)
		to, ok2 := real.Meters.Get(k)
		if !ok1 || !ok2 || h.ResetIn(k, anchor.At, real.At) {
			continue
		}
		usage := max(to-from, 0)
		for i, e := range estimates {
			if _, ok := e.Meters.Get(k); !ok {
				continue
			}
			part := e.At.Sub(anchor.At)
			part = min(max(part, 0), whole)
			out[i].Meters.Set(k, from+share(usage, int64(part), int64(whole)))
		}
	}
	return out
}

// share is usage × part / whole rounded down, without overflow.
func share(usage, part, whole int64) int64 {
	n := new(big.Int).Mul(big.NewInt(usage), big.NewInt(part))
	return n.Quo(n, big.NewInt(whole)).Int64()
}

// Lower lists the meters of cur lower than in prev with no reset recorded
// between them.
func Lower(prev, cur Reading, kinds []domain.CounterKind, h History) []domain.CounterKind {
	var out []domain.CounterKind
	for _, k := range kinds {
		p, ok1 := prev.Meters.Get(k)
		c, ok2 := cur.Meters.Get(k)
		if ok1 && ok2 && c < p && !h.ResetIn(k, prev.At, cur.At) {
			out = append(out, k)
		}
	}
	return out
}
