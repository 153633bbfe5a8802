package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// Targets (issue 16).
const (
	// targetEstimateMedian is the highest median error of estimates
	// allowed, relative to the period's true usage.
	targetEstimateMedian = 0.05
)

// errorStats collects errors of meters: in pages, relative to the
// period's true usage, and relative to the true meter.
type errorStats struct {
	abs, rel, ofMeter []float64
}

func (e *errorStats) add(abs float64, usage, meter int64) {
	e.abs = append(e.abs, math.Abs(abs))
	if usage > 0 {
		e.rel = append(e.rel, math.Abs(abs)/float64(usage))
	}
	if meter > 0 {
		e.ofMeter = append(e.ofMeter, math.Abs(abs)/float64(meter))
	}
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func worst(xs []float64) float64 {
	w := 0.0
	for _, x := range xs {
		w = max(w, x)
	}
	return w
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// billedTruth is the device's true meters at t, those a read has.
func billedTruth(d *device, t time.Time) map[domain.CounterKind]int64 {
	b, c := d.at(t)
	return map[domain.CounterKind]int64{domain.CounterBlack: b, domain.CounterColour: c, domain.CounterTotal: b + c}
}

// firstReadError is, meter by meter, how far the first read written for
// period p (the one its invoice used) was from the true meters at the
// period's end; nil when p has none.
func firstReadError(d *device, rows []store.BillingRead, p billing.Period) map[domain.CounterKind]int64 {
	for i := range rows {
		if !rows[i].PeriodEnd.Equal(p.End) {
			continue
		}
		truth := billedTruth(d, p.EndsAt())
		out := map[domain.CounterKind]int64{}
		for _, kk := range billing.Kinds {
			if v, ok := rows[i].Meters().Get(kk); ok {
				out[kk] = v - truth[kk]
			}
		}
		return out
	}
	return nil
}

// billedUsage is the device's true pages from a to b, meter by meter.
func billedUsage(d *device, a, b time.Time) map[domain.CounterKind]int64 {
	ub, uc := d.usage(a, b)
	return map[domain.CounterKind]int64{domain.CounterBlack: ub, domain.CounterColour: uc, domain.CounterTotal: ub + uc}
}

// realSpan is the first and the latest of a device's real read times at
// (any order) up to end; false when there is none.
func realSpan(at []time.Time, end time.Time) (first, last time.Time, ok bool) {
	for _, t := range at {
		if t.After(end) {
			continue
		}
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	return first, last, !last.IsZero()
}

// swappedSince reports whether the device's board was swapped in (t, end].
func (d *device) swappedSince(t, end time.Time) bool {
	return !d.swapAt.IsZero() && d.swapAt.After(t) && !d.swapAt.After(end)
}

// extrapolationError is, for meter k of a device at end, the error of an
// estimate that extrapolated the device's latest real read (at: the times
// of its real reads) at perDay pages a day; false when the device has no
// such read or its board was swapped since. With the device's own true
// pages a day over the measured year it is what knowing each device's
// volume exactly, and nothing of its weeks and seasons, would leave.
func extrapolationError(d *device, at []time.Time, end time.Time, k domain.CounterKind, perDay float64) (int64, bool) {
	_, base, ok := realSpan(at, end)
	if !ok || d.swappedSince(base, end) {
		return 0, false
	}
	elapsed := end.Sub(base).Hours() / 24
	estimate := billedTruth(d, base)[k] + int64(math.Round(perDay*elapsed))
	return estimate - billedTruth(d, end)[k], true
}

// calendarDays is how many average days of printing the simulation's own
// calendar (weekday × season, sim.go) counts from a to b.
func calendarDays(a, b time.Time) float64 {
	n := 0.0
	for t := a; t.Before(b); {
		day := t.Truncate(billing.Day)
		next := day.Add(billing.Day)
		if next.After(b) {
			next = b
		}
		n += float64(next.Sub(t)) / float64(billing.Day) * weekday(day) * season(day)
		t = next
	}
	return n
}

// calendarError is, for meter k of a device at end, the error of an
// estimate that extrapolated its latest real read (at is the times of its
// real reads, any order) by its usage from its first read to that one,
// both spans counted in calendarDays: what an estimator that knew every
// week and season exactly, and nothing else, would leave. false with
// fewer than two reads up to end, or a board swap since the first.
func calendarError(d *device, at []time.Time, end time.Time, k domain.CounterKind) (int64, bool) {
	first, last, ok := realSpan(at, end)
	if !ok || !last.After(first) || d.swappedSince(first, end) {
		return 0, false
	}
	from, to := billedTruth(d, first)[k], billedTruth(d, last)[k]
	estimate := float64(to) + float64(to-from)/calendarDays(first, last)*calendarDays(last, end)
	return int64(math.Round(estimate)) - billedTruth(d, end)[k], true
}

// trueDaily is the device's true pages a day over the measured year,
// meter by meter.
func trueDaily(d *device) map[domain.CounterKind]float64 {
	yearStart := time.Date(measuredYear, 1, 1, 0, 0, 0, 0, time.UTC)
	out := map[domain.CounterKind]float64{}
	for k, pages := range billedUsage(d, yearStart, yearStart.AddDate(1, 0, 0)) {
		out[k] = float64(pages) / 365
	}
	return out
}

// report compares the billing reads of the periods ending in the measured
// year with the truth and prints the figures; it returns whether the
// targets are met.
func report(ctx context.Context, st *store.Store, fleet []*device, out io.Writer) (bool, error) {
	w := st.BillingConfig().Window
	var periods, real, agent, manual, estimated, missing, noBase, held int
	var agentOutOfWindow, agentWrongMeter, agentMissed int
	invoiced := map[string]*errorStats{}
	estimates := map[string]*errorStats{}
	estimatesByKind := map[kind]*errorStats{}
	spread := &errorStats{}
	// fromContract are the errors of the estimates made from the
	// contract's expected volume; for the same meters, trueShare those of
	// extrapolating the same reads by an equal share of the contract's
	// volume, equalShare, by the contract's volume shared by each device's
	// true part of it, trueShare, and by the device's own true pages a
	// day, trueRate (extrapolationError).
	fromContract, equalShare, trueShare, trueRate := &errorStats{}, &errorStats{}, &errorStats{}, &errorStats{}
	// extrapolated are the errors of the estimates extrapolated from a
	// read (history, contract), floor those of extrapolating the same
	// reads by each device's own true pages a day.
	extrapolated, floor := &errorStats{}, &errorStats{}
	// unread are the errors of the estimates of devices without an agent
	// extrapolated from a read, calendar those of calendarError.
	unread, calendar := &errorStats{}, &errorStats{}
	// contractTrue is each contract's true pages a month, contractDevices
	// how many devices it has.
	contractTrue, contractDevices := map[int64]float64{}, map[int64]int{}
	for _, d := range fleet {
		c, err := st.ContractedDevice(ctx, d.id)
		if err != nil {
			return false, err
		}
		contractTrue[c.ContractID] += d.monthlyVolume()
		contractDevices[c.ContractID]++
	}
	// invoicedUsage is the error of the usage an estimated period's invoice
	// bills (the estimate less the previous invoice's read) against the
	// period's true usage, by kind of device: the meter's error less the
	// previous read's.
	invoicedUsage := map[kind]*errorStats{}
	byKind := map[kind][2]int{}
	for _, d := range fleet {
		rows, err := st.DeviceBillingReads(ctx, d.id)
		if err != nil {
			return false, err
		}
		// realAt are the times of the device's real reads that billing
		// knows of: its opening read and its real billing reads, not
		// rejected (an agent's other reads are not among them).
		var realAt []time.Time
		if o, err := st.DeviceOpeningRead(ctx, d.id); err != nil {
			return false, err
		} else if o != nil {
			realAt = append(realAt, o.At)
		}
		for _, r := range rows {
			if r.Source != billing.SourceEstimated && r.Review != billing.ReviewRejected {
				realAt = append(realAt, r.ReadAt)
			}
		}
		daily := trueDaily(d)
		c, err := st.ContractedDevice(ctx, d.id)
		if err != nil {
			return false, err
		}
		k, err := st.Contract(ctx, c.ContractID)
		if err != nil {
			return false, err
		}
		terms := billing.Terms{Period: k.BillingPeriod, Start: k.Start}
		yearStart := time.Date(measuredYear, 1, 1, 0, 0, 0, 0, time.UTC)
		// prevErr is the meter error of the previous period's invoiced read
		// (first written), nil when unknown.
		var prevErr map[domain.CounterKind]int64
		if ps := terms.Periods(yearStart, yearStart.AddDate(1, 0, 0)); len(ps) > 0 {
			if prev, ok := terms.Previous(ps[0]); ok {
				prevErr = firstReadError(d, rows, prev)
			}
		}
		for _, p := range terms.Periods(yearStart, yearStart.AddDate(1, 0, 0)) {
			periods++
			end := p.EndsAt()
			var first, current *store.BillingRead
			for i := range rows {
				if !rows[i].PeriodEnd.Equal(p.End) {
					continue
				}
				if first == nil {
					first = &rows[i]
				}
				if rows[i].SupersededAt == nil {
					current = &rows[i]
				}
			}
			counts := byKind[d.kind]
			counts[0]++
			if first == nil {
				missing++
				byKind[d.kind] = counts
				continue
			}
			// Was there an agent read in the window the billing should
			// have taken?
			hadAgentRead := false
			if d.kind.agent() {
				from, to := w.Bounds(end)
				for t := from.Truncate(billing.Day).Add(d.readAt); !t.After(to); t = t.Add(billing.Day) {
					if !t.Before(from) && !d.offline(t) {
						hadAgentRead = true
					}
				}
			}
			if hadAgentRead && first.Source != billing.SourceAgent {
				agentMissed++
			}
			switch first.Source {
			case billing.SourceAgent:
				agent++
				if !w.Contains(end, first.ReadAt) {
					agentOutOfWindow++
				}
				truth := billedTruth(d, first.ReadAt)
				for _, kk := range billing.Kinds {
					if v, ok := first.Meters().Get(kk); ok && v != truth[kk] {
						agentWrongMeter++
					}
				}
			case billing.SourceManual:
				manual++
			case billing.SourceEstimated:
				estimated++
				if first.Method == billing.MethodNoBase {
					noBase++
				}
				if first.Flags.Has(billing.FlagRepeatedEstimate) {
					held++
				}
			}
			if first.Source != billing.SourceEstimated {
				real++
				counts[1]++
			}
			byKind[d.kind] = counts
			prevEnd := p.Start
			truth, usage := billedTruth(d, end), billedUsage(d, prevEnd, end)
			for _, kk := range billing.Kinds {
				v, ok := first.Meters().Get(kk)
				if !ok {
					continue
				}
				key := first.Source
				if invoiced[key] == nil {
					invoiced[key] = &errorStats{}
				}
				invoiced[key].add(float64(v-truth[kk]), usage[kk], truth[kk])
				if invoiced["all"] == nil {
					invoiced["all"] = &errorStats{}
				}
				invoiced["all"].add(float64(v-truth[kk]), usage[kk], truth[kk])
				if first.Source == billing.SourceEstimated {
					method := billing.MethodFamily(first.Method)
					for _, m := range []string{method, "all"} {
						if estimates[m] == nil {
							estimates[m] = &errorStats{}
						}
						estimates[m].add(float64(v-truth[kk]), usage[kk], truth[kk])
					}
					if estimatesByKind[d.kind] == nil {
						estimatesByKind[d.kind] = &errorStats{}
					}
					estimatesByKind[d.kind].add(float64(v-truth[kk]), usage[kk], truth[kk])
					fromVolume := method == billing.MethodContractRemainder || method == billing.MethodContractVolume
					// The device's own rate of meter kk, and scaled to
					// another monthly volume.
					own, volume := daily[kk], float64(k.ExpectedMonthlyVolume)
					if e, ok := extrapolationError(d, realAt, end, kk, own); ok && (fromVolume || method == billing.MethodFamilyHistory) {
						extrapolated.add(float64(v-truth[kk]), usage[kk], truth[kk])
						floor.add(float64(e), usage[kk], truth[kk])
						if ce, ok := calendarError(d, realAt, end, kk); ok && !d.kind.agent() {
							unread.add(float64(v-truth[kk]), usage[kk], truth[kk])
							calendar.add(float64(ce), usage[kk], truth[kk])
						}
						if fromVolume {
							fromContract.add(float64(v-truth[kk]), usage[kk], truth[kk])
							trueRate.add(float64(e), usage[kk], truth[kk])
							e, _ = extrapolationError(d, realAt, end, kk, own*volume/contractTrue[k.ID])
							trueShare.add(float64(e), usage[kk], truth[kk])
							e, _ = extrapolationError(d, realAt, end, kk, own*volume/float64(contractDevices[k.ID])/d.monthlyVolume())
							equalShare.add(float64(e), usage[kk], truth[kk])
						}
					}
					if before, ok := prevErr[kk]; ok {
						if invoicedUsage[d.kind] == nil {
							invoicedUsage[d.kind] = &errorStats{}
						}
						invoicedUsage[d.kind].add(float64(v-truth[kk]-before), usage[kk], truth[kk])
					}
				}
			}
			prevErr = firstReadError(d, rows, p)
			if current != nil && current.Method == billing.MethodSpread {
				for _, kk := range billing.Kinds {
					if v, ok := current.Meters().Get(kk); ok {
						spread.add(float64(v-truth[kk]), usage[kk], truth[kk])
					}
				}
			}
		}
	}

	pct := func(n, of int) string { return fmt.Sprintf("%5.1f %%", 100*float64(n)/float64(max(of, 1))) }
	fmt.Fprintf(out, "billing reads of the periods ending in %d: %d device-periods, %d devices\n", measuredYear, periods, len(fleet))
	fmt.Fprintf(out, "  billed on a real read   %s  (agent %d, manual %d)\n", pct(real, periods), agent, manual)
	fmt.Fprintf(out, "  estimated               %s  (%d; %d with nothing to start from; %d held for review as one estimate too many in a row)\n",
		pct(estimated, periods), estimated, noBase, held)
	fmt.Fprintf(out, "  not billed              %d\n", missing)
	for _, k := range []kind{agentSteady, agentFlaky, manualReader, neverReader} {
		c := byKind[k]
		fmt.Fprintf(out, "    %-36s %4d periods, %s on a real read\n", k.String()+":", c[0], pct(c[1], c[0]))
	}
	fmt.Fprintf(out, "agent reads: %d; outside the window %d; a meter differing from the truth at the read's time %d; periods with an agent read in the window not billed on one %d\n",
		agent, agentOutOfWindow, agentWrongMeter, agentMissed)
	fmt.Fprintf(out, "error of the read each invoice used against the true meters at the period end (pages, per meter billed):\n")
	for _, key := range []string{"all", billing.SourceAgent, billing.SourceManual, billing.SourceEstimated} {
		e := invoiced[key]
		if e == nil {
			continue
		}
		fmt.Fprintf(out, "  %-10s n=%-5d mean %8.1f  worst %8.0f  (median %5.2f %% of the period's usage)\n", key, len(e.abs), mean(e.abs), worst(e.abs), 100*median(e.rel))
	}
	fmt.Fprintf(out, "estimates against the truth at the period end, relative to the period's true usage:\n")
	methods := make([]string, 0, len(estimates))
	for m := range estimates {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	for _, m := range methods {
		e := estimates[m]
		fmt.Fprintf(out, "  %-18s n=%-4d median %6.2f %%  mean %6.2f %%  worst %7.2f %%  | pages: mean %5.0f, worst %5.0f | of the meter: median %.2f %%\n",
			m, len(e.rel), 100*median(e.rel), 100*mean(e.rel), 100*worst(e.rel), mean(e.abs), worst(e.abs), 100*median(e.ofMeter))
	}
	for _, k := range []kind{agentSteady, agentFlaky, manualReader, neverReader} {
		if e := estimatesByKind[k]; e != nil {
			fmt.Fprintf(out, "  devices %-34s n=%-4d median %6.2f %%\n", k.String()+":", len(e.rel), 100*median(e.rel))
		}
	}
	if len(extrapolated.rel) > 0 {
		fmt.Fprintf(out, "estimates extrapolated from a read (history, contract), n=%d: median %.2f %%; by each device's true pages a day over the year instead: %.2f %%\n",
			len(extrapolated.rel), 100*median(extrapolated.rel), 100*median(floor.rel))
	}
	if len(unread.rel) > 0 {
		fmt.Fprintf(out, "  of devices without an agent, n=%d: median %.2f %%; by their own reads through the simulation's exact calendar of weeks and seasons instead: %.2f %%\n",
			len(unread.rel), 100*median(unread.rel), 100*median(calendar.rel))
	}
	if len(fromContract.rel) > 0 {
		fmt.Fprintf(out, "estimates from the contract's volume, n=%d: median %.2f %% of the period's usage; extrapolating the same reads instead\n", len(fromContract.rel), 100*median(fromContract.rel))
		for _, alt := range []struct {
			by string
			e  *errorStats
		}{
			{"an equal share of the contract's volume (each device's own colour share)", equalShare},
			{"the contract's volume shared by each device's true part of it (the contract's own error)", trueShare},
			{"each device's true pages a day over the year (no error of volume; weeks and seasons)", trueRate},
		} {
			fmt.Fprintf(out, "  by %-90s median %6.2f %%\n", alt.by+":", 100*median(alt.e.rel))
		}
	}
	fmt.Fprintf(out, "estimates' invoiced usage (the estimate less the previous invoice's read) against the period's true usage (information; the target is on the meter at the period end):\n")
	var usageAll errorStats
	for _, k := range []kind{agentSteady, agentFlaky, manualReader, neverReader} {
		if e := invoicedUsage[k]; e != nil {
			fmt.Fprintf(out, "  devices %-34s n=%-4d median %6.2f %%\n", k.String()+":", len(e.rel), 100*median(e.rel))
			usageAll.rel = append(usageAll.rel, e.rel...)
		}
	}
	fmt.Fprintf(out, "  %-42s n=%-4d median %6.2f %%\n", "all:", len(usageAll.rel), 100*median(usageAll.rel))
	if len(spread.abs) > 0 {
		fmt.Fprintf(out, "estimates regularised by the next real read (current read, method spread): n=%d, median %.2f %% of the usage, mean %.0f pages, worst %.0f\n",
			len(spread.rel), 100*median(spread.rel), mean(spread.abs), worst(spread.abs))
	}

	met := true
	check := func(ok bool, what string) {
		verdict := "met"
		if !ok {
			verdict, met = "MISSED", false
		}
		fmt.Fprintf(out, "target %-70s %s\n", what+":", verdict)
	}
	check(agentOutOfWindow == 0 && agentMissed == 0 && agentWrongMeter == 0 && missing == 0,
		"every agent-read device billed on a read in its window, meters exact")
	all := estimates["all"]
	check(all != nil && median(all.rel) <= targetEstimateMedian,
		fmt.Sprintf("estimate median error <= %.0f %% of the period's usage", 100*targetEstimateMedian))
	if all != nil {
		// The same error against the true meter itself (a lifetime
		// count): far smaller, said for comparison, not judged.
		fmt.Fprintf(out, "(estimate median error against the true meter itself: %.2f %%)\n", 100*median(all.ofMeter))
	}
	return met, nil
}
