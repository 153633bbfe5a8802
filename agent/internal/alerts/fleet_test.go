package alerts

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/golden"
	"github.com/meterline/meterline/shared/wire"
)

// m553Read is the agent's read of the demo fleet's HP Color LaserJet
// M553dn (printersim/sim/fleet/hp_color_laserjet_m553dn.snmprec) after
// step polls six hours apart, printing 1,500 pages a step, a quarter of
// them colour. It starts as recorded: yellow at 3 % with low_toner; then
// yellow runs out and is replaced, cyan runs low then out, a jam comes and
// goes, one read misreads the black meter and black runs low.
func m553Read(step int) wire.DeviceRead {
	clamp := func(v int) int { return max(v, 0) }
	black, cyan, magenta := clamp(48-3*step), clamp(22-2*step), clamp(67-step)
	yellow := clamp(3 - step)
	if step >= 5 {
		yellow = 100 - (step-5)*2 // the new cartridge
	}
	pages := int64(1500 * step)
	meters := map[domain.CounterKind]int64{
		domain.CounterTotal:  61540 + pages,
		domain.CounterBlack:  40128 + pages*3/4,
		domain.CounterColour: 21412 + pages/4,
	}
	if step == 9 {
		meters[domain.CounterBlack] = 1200 // a misread
	}

	supply := func(index int, descr, part string, kind domain.SupplyKind, colour string, pct int) wire.Supply {
		s := measured(index, kind, colour, pct)
		s.Description, s.PartNumber, s.Unit = descr, part, "percent"
		return s
	}
	collection := supply(5, "Toner Collection Unit HP B5L37A", "B5L37A", domain.SupplyWaste, "", 0)
	full := 19 + step
	level := int64(100 - full)
	collection.Level, collection.Percent, collection.Receptacle, collection.FullPercent = &level, nil, true, &full

	var conds []domain.Condition
	switch {
	case step >= 3 && step < 5:
		conds = []domain.Condition{domain.CondLowToner, domain.CondNoToner}
	case step < 3 || step >= 6:
		conds = []domain.Condition{domain.CondLowToner}
	}
	if step == 7 {
		conds = append(conds, domain.CondJammed)
	}
	deviceState := domain.DeviceWarning
	if len(conds) == 0 {
		deviceState = domain.DeviceRunning
	}

	r := wire.DeviceRead{
		Serial: "JPBCK31052", Vendor: domain.VendorHP, Model: "HP Color LaserJet M553dn", Address: "127.0.20.53",
		ReadAt: time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC).Add(time.Duration(step) * 6 * time.Hour),
		Supplies: []wire.Supply{
			supply(1, "Black Cartridge HP CF360A", "CF360A", domain.SupplyToner, "black", black),
			supply(2, "Cyan Cartridge HP CF361A", "CF361A", domain.SupplyToner, "cyan", cyan),
			supply(3, "Magenta Cartridge HP CF363A", "CF363A", domain.SupplyToner, "magenta", magenta),
			supply(4, "Yellow Cartridge HP CF362A", "CF362A", domain.SupplyToner, "yellow", yellow),
			collection,
			supply(6, "Fuser Kit HP B5L35A", "B5L35A", domain.SupplyFuser, "", 88),
			supply(7, "Transfer Kit HP B5L24A", "B5L24A", domain.SupplyTransfer, "", 90),
		},
		Status: &wire.Status{Device: deviceState, Printer: domain.PrinterIdle, Conditions: conds},
	}
	for _, k := range watchedMeters {
		r.Counters = append(r.Counters, wire.Counter{Kind: k, Value: meters[k], Unit: domain.UnitImpressions})
	}
	return r
}

func TestDemoFleetDeviceOverTime(t *testing.T) {
	tr := NewTracker(Options{})
	var events []wire.Event
	var steps []int // the step that raised each event
	for step := range 15 {
		for _, e := range tr.Observe(agent, m553Read(step)) {
			events = append(events, e)
			steps = append(steps, step)
		}
	}
	last := m553Read(14)
	key := last.Key(agent)
	for range 3 { // three failed cycles: one outage
		if e, ok := tr.Unreachable(agent, key, last.Address, last.ReadAt.Add(6*time.Hour)); ok {
			events = append(events, e)
			steps = append(steps, 15)
		}
	}

	want := []struct {
		step    int
		kind    domain.EventKind
		message string
	}{
		{0, domain.EventTonerLow, "Yellow toner at 3 %"},
		{3, domain.EventTonerEmpty, "Yellow toner empty"},
		{5, domain.EventSupplyReplaced, "Yellow toner replaced (0 % → 100 %)"},
		{6, domain.EventTonerLow, "Cyan toner at 10 %"},
		{7, domain.EventJam, "Paper jam"},
		{9, domain.EventCounterBackwards, "Black meter went from 49128 to 1200"},
		{11, domain.EventTonerEmpty, "Cyan toner empty"},
		{13, domain.EventTonerLow, "Black toner at 9 %"},
		{15, domain.EventDeviceUnreachable, "Not answering since 2026-03-06 00:00 UTC"},
	}
	if len(events) != len(want) {
		for i, e := range events {
			t.Logf("step %d: %s: %s", steps[i], e.Kind, e.Message)
		}
		t.Fatalf("%d events, want %d", len(events), len(want))
	}
	for i, w := range want {
		if e := events[i]; steps[i] != w.step || e.Kind != w.kind || e.Message != w.message {
			t.Errorf("event %d: step %d %s %q, want step %d %s %q", i, steps[i], e.Kind, e.Message, w.step, w.kind, w.message)
		}
	}

	golden.JSON(t, filepath.Join("testdata", "hp_m553dn_events.json"), events)
	// What the agent publishes, the collector accepts.
	for _, e := range events {
		b, _ := json.Marshal(e)
		if _, err := wire.DecodeEvent(b); err != nil {
			t.Errorf("collector refuses %s: %v", e.Kind, err)
		}
	}
}
