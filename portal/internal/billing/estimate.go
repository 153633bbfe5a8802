package billing

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/meter"
)

// Estimate methods (billing_reads.method of an estimated read).
const (
	// MethodInterpolated: between the device's real reads on both sides
	// of the period end (an agent that was offline at the end and came
	// back later).
	MethodInterpolated = "interpolated"
	// MethodContractVolume: the contract's expected monthly volume, the
	// device's history being too short.
	MethodContractVolume = "contract_volume"
	// MethodSpread: an estimate re-spread when a real read followed it
	// (Regularise).
	MethodSpread = "spread"
	// MethodNoBase: nothing was known of the device's meters; the read
	// has none and waits for the back office.
	MethodNoBase = "no_base"
)

// MethodHistory is the method of an estimate from the device's own
// average daily usage over days of history: "history:182d".
func MethodHistory(days int) string { return fmt.Sprintf("history:%dd", days) }

// ErrNoBase is Estimate's error when neither a billing read nor a real
// read of the device is known: there is no meter value to start from.
var ErrNoBase = errors.New("billing: no read of the device to estimate from")

// Estimate is an estimated billing read's meters and how they were found.
type Estimate struct {
	Meters MeterValues
	Method string
}

// method ranks: an estimate is named after the weakest method any of its
// meters needed.
const (
	rankInterpolated = iota
	rankHistory
	rankContract
)

// Estimate estimates the meters the contract bills at at (a period's
// end), for a device whose last billing read (any source) is last (nil:
// none) and whose real reads are h. For each meter billed:
//
//   - The base is the latest of the last billing read and the device's
//     latest real read at or before at: the freshest value known.
//   - When a real read after at exists and the meter went up to it from
//     the base with no reset between, the value at at is interpolated
//     linearly between the two (MethodInterpolated).
//   - Otherwise the base is extrapolated by the device's average daily
//     usage times the days from the base to at. The average is the
//     meter's usage over its real reads (restarting at resets, never
//     negative: meter.Usage) divided by the days from its first to its
//     last read, when every meter estimated this way has at least
//     c.MinHistory of reads (MethodHistory, named after the shortest).
//   - With less history, the contract's expected monthly volume, as pages
//     a day (× 12 / 365), is used for all meters (MethodContractVolume):
//     total takes all of it; black and colour, when the contract bills
//     both and the device has a colour meter, share it by the device's
//     colour share of usage over its reads so far, else by
//     c.DefaultColourShare; a contract billing only one of them gives it
//     all; a mono device (black reads, no colour read) gives black all.
//
// A value never goes below the last billing read's unless a reset was
// recorded since. A meter with no base (the device never showed it) is
// left out; with no base at all, Estimate returns ErrNoBase.
func (c Config) Estimate(t Terms, at time.Time, last *Reading, h History) (Estimate, error) {
	type meterPlan struct {
		base   meter.Point
		value  *int64
		method int
	}
	plans := map[domain.CounterKind]*meterPlan{}
	for _, k := range t.Billed() {
		var p *meterPlan
		if last != nil {
			if v, ok := last.Meters.Get(k); ok {
				p = &meterPlan{base: meter.Point{At: last.At, Value: v}}
			}
		}
		if r, ok := h.lastUpTo(k, at); ok && (p == nil || r.At.After(p.base.At)) {
			p = &meterPlan{base: r}
		}
		if p == nil {
			continue
		}
		if next, ok := h.firstAfter(k, at); ok && next.Value >= p.base.Value && !h.ResetIn(k, p.base.At, next.At) && next.At.After(p.base.At) {
			frac := float64(at.Sub(p.base.At)) / float64(next.At.Sub(p.base.At))
			v := p.base.Value + int64(math.Round(frac*float64(next.Value-p.base.Value)))
			p.value, p.method = &v, rankInterpolated
		}
		plans[k] = p
	}
	if len(plans) == 0 {
		return Estimate{}, ErrNoBase
	}

	// The rest are extrapolated, from history when each has enough.
	rates := map[domain.CounterKind]float64{}
	shortest := time.Duration(math.MaxInt64)
	fromHistory := true
	for k, p := range plans {
		if p.value != nil {
			continue
		}
		pts := h.between(k, time.Time{}, at)
		s := span(pts)
		if s < c.MinHistory {
			fromHistory = false
			break
		}
		shortest = min(shortest, s)
		rates[k] = float64(meter.Usage(pts, h.Resets[k])) / days(s)
	}
	rank := rankHistory
	if !fromHistory {
		rank = rankContract
		daily := float64(t.ExpectedMonthlyVolume) * 12 / 365
		share := c.colourShare(h, at)
		_, colour := plans[domain.CounterColour]
		for k := range plans {
			switch {
			case k == domain.CounterBlack && colour:
				rates[k] = daily * (1 - share)
			case k == domain.CounterColour && plans[domain.CounterBlack] != nil:
				rates[k] = daily * share
			default:
				rates[k] = daily
			}
		}
	}

	var est Estimate
	worst := rankInterpolated
	for _, k := range Kinds {
		p, ok := plans[k]
		if !ok {
			continue
		}
		v := int64(0)
		if p.value != nil {
			v = *p.value
		} else {
			elapsed := max(days(at.Sub(p.base.At)), 0)
			v = p.base.Value + int64(math.Round(rates[k]*elapsed))
			p.method = rank
		}
		if last != nil {
			if lv, ok := last.Meters.Get(k); ok && v < lv && !h.ResetIn(k, last.At, at) {
				v = lv
			}
		}
		est.Meters.Set(k, v)
		worst = max(worst, p.method)
	}
	switch worst {
	case rankInterpolated:
		est.Method = MethodInterpolated
	case rankHistory:
		est.Method = MethodHistory(int(shortest / Day))
	default:
		est.Method = MethodContractVolume
	}
	return est, nil
}

// colourShare is the share of colour in the device's usage up to at: a
// mono device (black reads, no colour read) has none; with no usage to
// tell, c.DefaultColourShare.
func (c Config) colourShare(h History, at time.Time) float64 {
	if h.Has(domain.CounterBlack) && !h.Has(domain.CounterColour) {
		return 0
	}
	usage := func(k domain.CounterKind) int64 {
		return meter.Usage(h.between(k, time.Time{}, at), h.Resets[k])
	}
	black, colour := usage(domain.CounterBlack), usage(domain.CounterColour)
	if black+colour == 0 {
		return c.DefaultColourShare
	}
	return float64(colour) / float64(black+colour)
}
