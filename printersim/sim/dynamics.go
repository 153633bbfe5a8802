package sim

import (
	"math"
	"time"

	"github.com/meterline/meterline/printersim/snmprec"
)

const (
	// ColorPercent is the share of a colour device's pages that are colour.
	ColorPercent = 25
	// DefaultTonerYield is the number of pages one full toner or ink
	// cartridge lasts when the device reports its level in percent.
	DefaultTonerYield = 10000
	// refillDivisor sets how long an empty supply stays empty before it is
	// replaced: yield/refillDivisor pages, long enough for a poller to see
	// the empty level and then the replacement.
	refillDivisor = 50
)

// usage is how much a device has done since the fleet started. Every
// dynamic value is a pure function of it, so the value served and the
// value Fleet.Value reports agree for the same instant.
type usage struct {
	live       bool
	total      int64 // pages printed
	color      int64 // of which colour
	ticks      uint64
	tonerYield int64
}

// usageAt computes a device's usage after elapsed time at a rate in pages
// per minute.
func usageAt(elapsed time.Duration, rate float64, color bool, tonerYield int64) usage {
	if rate <= 0 {
		return usage{}
	}
	elapsed = max(elapsed, 0)
	total := int64(math.Floor(elapsed.Minutes() * rate))
	u := usage{live: true, total: total, ticks: uint64(elapsed / (10 * time.Millisecond)), tonerYield: tonerYield}
	if color {
		u.color = total * ColorPercent / 100
	}
	return u
}

func (u usage) pages(class pageClass) int64 {
	switch class {
	case blackPages:
		return u.total - u.color
	case colorPages:
		return u.color
	}
	return u.total
}

// valueAt is the value the device serves for entry i at the given usage.
func (d *Device) valueAt(i int, u usage) snmprec.Value {
	e := &d.entries[i]
	if e.rule < 0 || !u.live {
		return e.value
	}
	r := &d.rules[e.rule]
	switch r.kind {
	case meterRule:
		return advance(e.value, uint64(u.pages(r.pages))) //nolint:gosec // page counts grow from 0 with elapsed time: never negative
	case uptimeRule:
		return advance(e.value, u.ticks)
	case supplyRule:
		v := e.value
		v.Int = r.levelAfter(u.pages(r.pages), u.tonerYield)
		return v
	}
	return e.value
}

// advance adds delta to a counter, wrapping as the type wraps on a device.
func advance(v snmprec.Value, delta uint64) snmprec.Value {
	switch v.Type {
	case snmprec.Counter32, snmprec.TimeTicks:
		v.Uint = uint64(uint32(v.Uint + delta)) //nolint:gosec // wrapping at 2^32 is the point: a Counter32 wraps
	case snmprec.Gauge32:
		v.Uint = min(v.Uint+delta, math.MaxUint32)
	case snmprec.Counter64:
		v.Uint += delta
	case snmprec.Integer:
		// Integer meters (Xerox, Ricoh) wrap like 31-bit counters; a
		// negative recorded value is a sentinel and stays.
		if v.Int >= 0 {
			v.Int = int64((uint64(v.Int) + delta) % (1 << 31))
		}
	}
	return v
}

// levelAfter is the supply level after pages have worn it. The level falls
// by capacity/yield per page from the recorded level; at 0 it stays empty
// for yield/refillDivisor pages, then a full replacement starts the next
// cycle, so a long-running demo keeps moving.
func (r *rule) levelAfter(pages, tonerYield int64) int64 {
	yield := r.pageYield
	if yield == 0 {
		yield = r.yieldFactor * tonerYield
	}
	if pages <= 0 || yield <= 0 {
		return r.level
	}
	// emptyAt is the first page count at which the level reaches 0.
	emptyAt := ceilDiv(r.level*yield, r.capacity)
	if pages < emptyAt {
		return r.level - pages*r.capacity/yield
	}
	refill := max(yield/refillDivisor, 1)
	sinceEmpty := (pages - emptyAt) % (refill + yield)
	if sinceEmpty < refill {
		return 0
	}
	return r.capacity - (sinceEmpty-refill)*r.capacity/yield
}

func ceilDiv(a, b int64) int64 {
	return (a + b - 1) / b
}
