package billing

import (
	"errors"
	"fmt"
	"math"
	"strings"
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
	// MethodContractRemainder: the device's history being too short, the
	// contract's expected volume less the usage measured on its other
	// devices that have enough history, the rest shared by the devices
	// that have not.
	MethodContractRemainder = "contract_remainder"
	// MethodContractVolume: the device's history being too short and
	// nothing being known of the contract's other devices either, an
	// equal share of the contract's expected volume.
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
func MethodHistory(days int) string { return fmt.Sprintf("%s:%dd", MethodFamilyHistory, days) }

// MethodFamilyHistory is what every MethodHistory starts with.
const MethodFamilyHistory = "history"

// MethodFamily is a method without its detail: MethodFamilyHistory for
// every MethodHistory, the method itself for the others.
func MethodFamily(method string) string {
	family, _, _ := strings.Cut(method, ":")
	return family
}

// ErrNoBase is Estimate's error when neither a billing read nor a real
// read of the device is known: there is no meter value to start from.
var ErrNoBase = errors.New("billing: no read of the device to estimate from")

// Estimate is an estimated billing read's meters and how they were found.
type Estimate struct {
	Meters MeterValues
	Method string
}

// Peers returns the real reads of the contract's other devices (those it
// bills besides the one estimated), with what they read around from and
// to. Estimate calls it only when the device's own history is too short.
type Peers func(from, to time.Time) ([]History, error)

// NoPeers is the Peers of a contract billing one device.
func NoPeers(time.Time, time.Time) ([]History, error) { return nil, nil }

// method ranks: an estimate is named after the weakest method any of its
// meters needed.
const (
	rankInterpolated = iota
	rankHistory
	rankContract
)

// Estimate estimates the meters the contract bills at at (a period's
// end), for a device whose last billing read (any source) is last (nil:
// none) and whose real reads are h; peers are the real reads of the
// contract's other devices. For each meter billed:
//
//   - The base is the device's latest real read at or before at; failing
//     one, the last billing read. An estimate is never the base of the
//     next: what it got wrong would carry over, and the contract's share
//     is better reckoned afresh from the real read with what is known now.
//   - When a real read after at exists and the meter went up to it from
//     the base with no reset between, the value at at is interpolated
//     linearly between the two (MethodInterpolated).
//   - Otherwise the base is extrapolated by the device's average daily
//     usage times the days from the base to at. The average is the
//     meter's usage over its real reads (restarting at resets, never
//     negative: meter.Usage) divided by the days from its first to its
//     last read, when every meter estimated this way has at least
//     c.MinHistory of reads (MethodHistory, named after the shortest).
//   - With less history, the contract's expected volume (monthly, all
//     its devices' pages together, × 12 / 365 a day: t is the contract's)
//     gives the device's pages from the base to at (contractPages):
//     what the contract expected over those days less what its other
//     devices with c.MinHistory of reads printed then (measured between
//     their reads, MethodContractRemainder), never negative, shared by
//     the devices without (by the pages a day their few reads show, else
//     equally); with none of the others known, a share of the volume
//     (MethodContractVolume). Total takes all of those pages; black and
//     colour, when the contract bills both and the device has a colour
//     meter, share them by the device's colour share of usage over its
//     reads so far, else by c.DefaultColourShare; a contract billing only
//     one of them gives it all; a mono device (black reads, and no colour
//     read or only reads of 0) gives black all.
//
// A value never goes below the last billing read's unless a reset was
// recorded since. A meter with no base (the device never showed it) is
// left out; with no base at all, Estimate returns ErrNoBase.
func (c Config) Estimate(t Terms, at time.Time, last *Reading, h History, peers Peers) (Estimate, error) {
	type meterPlan struct {
		base   meter.Point
		value  *int64
		method int
	}
	plans := map[domain.CounterKind]*meterPlan{}
	for _, k := range t.Billed() {
		var p *meterPlan
		if r, ok := h.lastUpTo(k, at); ok {
			p = &meterPlan{base: r}
		}
		if p == nil && last != nil {
			if v, ok := last.Meters.Get(k); ok {
				p = &meterPlan{base: meter.Point{At: last.At, Value: v}}
			}
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
	from, own := at, h.upTo(at)
	for k, p := range plans {
		if p.value != nil {
			continue
		}
		from = earliest(from, p.base.At)
		cv, ok := c.curveOf(own, k)
		if !ok {
			fromHistory = false
			continue
		}
		shortest = min(shortest, cv.span())
		rates[k] = cv.rate
	}
	rank, contractMethod := rankHistory, ""
	if !fromHistory {
		others, err := peers(from, at)
		if err != nil {
			return Estimate{}, fmt.Errorf("billing: the contract's other devices: %w", err)
		}
		var daily float64
		if elapsed := days(at.Sub(from)); elapsed > 0 {
			var pages float64
			pages, contractMethod = c.contractPages(t, own, from, at, others)
			daily = pages / elapsed
		} else {
			contractMethod = MethodContractVolume
		}
		rank = rankContract
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
		est.Method = contractMethod
	}
	return est, nil
}

// contractPages is how many pages the contract's expected volume leaves a
// device of it whose own reads are h (too short a history), from from to
// to (a positive span), and the method that says how: the contract's
// expected pages over those days less those its other devices with enough
// history printed then (pagesOver), never negative, shared by the devices
// without, this one included (MethodContractRemainder); with none of the
// others known, the expected pages shared by all (MethodContractVolume).
// The devices sharing take parts in proportion to the pages a day their
// few reads show (pageRate) when each shows some, else equal parts.
func (c Config) contractPages(t Terms, h History, from, to time.Time, others []History) (float64, string) {
	expected := float64(t.ExpectedMonthlyVolume) * 12 / 365 * days(to.Sub(from))
	var measured float64
	sharing := []History{h}
	for _, o := range others {
		if pages, ok := c.pagesOver(o, from, to); ok {
			measured += pages
		} else {
			sharing = append(sharing, o)
		}
	}
	method := MethodContractRemainder
	if len(sharing) == len(others)+1 {
		method = MethodContractVolume
	}
	return max(expected-measured, 0) * partOf(sharing), method
}

// partOf is the part of what devices whose reads are hs share that goes to
// the first: in proportion to the pages a day their reads show when each
// shows some, else an equal part.
func partOf(hs []History) float64 {
	var all float64
	for _, h := range hs {
		r, ok := pageRate(h)
		if !ok || r <= 0 {
			return 1 / float64(len(hs))
		}
		all += r
	}
	r, _ := pageRate(hs[0])
	return r / all
}

// pageCurves are the usage curves of the meters that count a device's
// pages: black and colour, else total for a device that shows no black
// meter; nil for a device with no reads.
func pageCurves(h History) []curve {
	kinds := []domain.CounterKind{domain.CounterBlack, domain.CounterColour}
	if !h.Has(domain.CounterBlack) {
		kinds = []domain.CounterKind{domain.CounterTotal}
	}
	var out []curve
	for _, k := range kinds {
		if h.Has(k) { // a mono device has no colour
			out = append(out, newCurve(h.Points[k], h.Resets[k]))
		}
	}
	return out
}

// pagesOver is how many pages a device whose real reads are h printed
// from from to to, read off its page curves (between its reads, at its
// average beyond them). false when a curve spans less than c.MinHistory:
// the device's usage is then not known well enough to count as measured.
func (c Config) pagesOver(h History, from, to time.Time) (float64, bool) {
	cvs := pageCurves(h)
	var pages float64
	for _, cv := range cvs {
		if !c.enough(cv) {
			return 0, false
		}
		pages += cv.at(to) - cv.at(from)
	}
	return pages, len(cvs) > 0
}

// pageRate is the pages a day a device's real reads h show, however short
// their span; false when a meter has fewer than two reads.
func pageRate(h History) (float64, bool) {
	cvs := pageCurves(h)
	var rate float64
	for _, cv := range cvs {
		if cv.span() <= 0 {
			return 0, false
		}
		rate += cv.rate
	}
	return rate, len(cvs) > 0
}

// curveOf is meter k's usage curve over the reads of h, false when they
// span less than c.MinHistory.
func (c Config) curveOf(h History, k domain.CounterKind) (curve, bool) {
	cv := newCurve(h.Points[k], h.Resets[k])
	return cv, c.enough(cv)
}

// enough reports whether a meter's reads span c.MinHistory: enough to
// estimate from, or to count as measured.
func (c Config) enough(cv curve) bool { return cv.span() > 0 && cv.span() >= c.MinHistory }

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// colourShare is the share of colour in the device's usage up to at: a
// mono device (black reads, no colour read, or colour reads that all show
// 0: a mono device whose customer typed 0, a colour one that never printed
// colour) has none; with no usage to tell, c.DefaultColourShare.
func (c Config) colourShare(h History, at time.Time) float64 {
	if h.Has(domain.CounterBlack) && h.neverAboveZero(domain.CounterColour) {
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
