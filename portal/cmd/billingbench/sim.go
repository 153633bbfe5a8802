package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/printersim/sim"
)

// The daily-usage model. printersim prints at a constant rate (pages a
// minute, a quarter of them colour: sim.ColorPercent), which would make
// every estimate exact; a year of billing needs days that differ. Each
// device prints, on day d,
//
//	base × (1 + trend × years since the start) × weekday × season × noise
//
// pages, where base is drawn log-normally around 60 pages a day (σ 0.8:
// from a few to a few hundred), trend uniformly in ±15 % a year, weekday
// is 1.2 Monday to Friday, 0.4 Saturday and 0.1 Sunday (a week averages
// 1.0), season is 0.6 in August and 0.5 from 24 to 31 December, else 1,
// and noise is log-normal (σ 0.35, mean 1). A colour device prints a
// share of them in colour drawn around printersim's 25 % (uniform
// 10–40 %, its own every day by a binomial-like draw); a mono one none.
// Pages are counted in whole pages at midnight UTC and spread evenly over
// the day in between, so the meters at any instant are known: the truth
// billing reads are compared with.

// Simulated span: agents have read since simStart; contracts start on
// contractStart; the year measured is measuredYear; the simulation runs
// until simEnd, so that the campaigns of its last periods have closed.
var (
	simStart      = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	contractStart = time.Date(2024, 10, 1, 0, 0, 0, 0, time.UTC)
	simEnd        = time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)
	measuredYear  = 2025
)

// kind is how a device's meters reach billing.
type kind int

const (
	// agentSteady: an agent reads it every day.
	agentSteady kind = iota
	// agentFlaky: an agent reads it every day but goes offline around
	// some period ends.
	agentFlaky
	// manualReader: no agent; the customer answers most campaigns.
	manualReader
	// neverReader: no agent; the customer answered the first campaign
	// (the installation read) and never again.
	neverReader
)

func (k kind) String() string {
	return [...]string{"agent", "agent offline at some period ends", "manual reads", "no reads"}[k]
}

func (k kind) agent() bool { return k == agentSteady || k == agentFlaky }

// outage is a span with no agent read.
type outage struct{ from, to time.Time }

// device is a simulated printer and its true meters.
type device struct {
	serial string
	colour bool
	kind   kind
	// Usage model parameters.
	base, trend, colourShare float64
	// readAt is when in the day its agent reads it.
	readAt time.Duration
	// swapAt, when set, is a board swap at that midnight: the meters
	// start again from swapValue.
	swapAt  time.Time
	outages []outage
	// printedBlack and printedColour are the pages printed from simStart
	// to midnight of each day (index 0: simStart) to simEnd; the meters
	// are start plus them (see at).
	printedBlack, printedColour []int64
	startBlack, startColour     int64
	// Set up in the database.
	id, accountID, userID int64
}

// swapValue is where a new board's meters start.
const swapValue = 3

// days is how many midnights the simulation spans.
func days() int { return int(simEnd.Sub(simStart)/billing.Day) + 1 }

// season is the seasonal factor of a day.
func season(t time.Time) float64 {
	switch {
	case t.Month() == time.August:
		return 0.6
	case t.Month() == time.December && t.Day() >= 24:
		return 0.5
	}
	return 1
}

// weekday is the weekday factor of a day.
func weekday(t time.Time) float64 {
	switch t.Weekday() {
	case time.Saturday:
		return 0.4
	case time.Sunday:
		return 0.1
	}
	return 1.2
}

// lognormal draws a log-normal factor of mean 1.
func lognormal(r *rand.Rand, sigma float64) float64 {
	return math.Exp(r.NormFloat64()*sigma - sigma*sigma/2)
}

// newDevice draws a device's parameters and prints its days.
func newDevice(r *rand.Rand, i int, k kind, colour bool) *device {
	d := &device{
		serial: fmt.Sprintf("SIM%05d", i+1), colour: colour, kind: k,
		base:   60 * math.Exp(r.NormFloat64()*0.8),
		trend:  (r.Float64()*2 - 1) * 0.15,
		readAt: time.Duration(r.IntN(24*60)) * time.Minute,
	}
	d.startBlack = int64(5000 + r.IntN(200000))
	if colour {
		// Around printersim's share of colour pages (sim.ColorPercent).
		centre := float64(sim.ColorPercent) / 100
		d.colourShare = centre - 0.15 + r.Float64()*0.30
		d.startColour = int64(2000 + r.IntN(80000))
	}
	n := days()
	d.printedBlack, d.printedColour = make([]int64, n), make([]int64, n)
	for i := 1; i < n; i++ {
		day := simStart.Add(time.Duration(i-1) * billing.Day)
		years := day.Sub(simStart).Hours() / (24 * 365)
		pages := d.base * (1 + d.trend*years) * weekday(day) * season(day) * lognormal(r, 0.35)
		total := int64(math.Round(max(pages, 0)))
		var col int64
		if colour {
			// The day's colour share varies around the device's own.
			share := min(max(d.colourShare*lognormal(r, 0.2), 0), 1)
			col = int64(math.Round(float64(total) * share))
		}
		d.printedBlack[i], d.printedColour[i] = d.printedBlack[i-1]+total-col, d.printedColour[i-1]+col
	}
	return d
}

// printed returns the pages printed from simStart to t, the day's pages
// spread evenly over the day.
func printed(p []int64, t time.Time) int64 {
	i := int(t.Sub(simStart) / billing.Day)
	switch {
	case i < 0:
		return 0
	case i >= len(p)-1:
		return p[len(p)-1]
	}
	frac := float64(t.Sub(simStart.Add(time.Duration(i)*billing.Day))) / float64(billing.Day)
	return p[i] + int64(frac*float64(p[i+1]-p[i]))
}

// at returns the true meters at t.
func (d *device) at(t time.Time) (black, colour int64) {
	black, colour = d.startBlack+printed(d.printedBlack, t), d.startColour+printed(d.printedColour, t)
	if !d.swapAt.IsZero() && !t.Before(d.swapAt) {
		black = swapValue + printed(d.printedBlack, t) - printed(d.printedBlack, d.swapAt)
		colour = swapValue + printed(d.printedColour, t) - printed(d.printedColour, d.swapAt)
		if !d.colour {
			colour = 0
		}
	}
	return black, colour
}

// usage is the pages printed from a to b, meter by meter.
func (d *device) usage(a, b time.Time) (black, colour int64) {
	return printed(d.printedBlack, b) - printed(d.printedBlack, a), printed(d.printedColour, b) - printed(d.printedColour, a)
}

// offline reports whether the device's agent is offline at t.
func (d *device) offline(t time.Time) bool {
	for _, o := range d.outages {
		if !t.Before(o.from) && t.Before(o.to) {
			return true
		}
	}
	return false
}

// monthlyVolume is the device's mean pages a month over the year
// measured, as the supplier would have estimated it when signing.
func (d *device) monthlyVolume() float64 {
	b, c := d.usage(time.Date(measuredYear, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(measuredYear+1, 1, 1, 0, 0, 0, 0, time.UTC))
	return float64(b+c) / 12
}
