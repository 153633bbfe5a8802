package alerts

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

const agent = "site-lyon-01"

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// measured is a consumable with a known level.
func measured(index int, kind domain.SupplyKind, colour string, pct int) wire.Supply {
	level, capacity := int64(pct), int64(100)
	return wire.Supply{Index: index, Kind: kind, Colour: colour, Level: &level, Capacity: &capacity,
		State: domain.LevelMeasured, Percent: &pct}
}

func toner(index int, colour string, pct int) wire.Supply {
	return measured(index, domain.SupplyToner, colour, pct)
}

// special is a supply reporting a special level instead of a measure.
func special(index int, colour string, state domain.LevelState, raw int64) wire.Supply {
	return wire.Supply{Index: index, Kind: domain.SupplyToner, Colour: colour, Level: &raw, State: state}
}

func withDescription(s wire.Supply, descr, part string) wire.Supply {
	s.Description, s.PartNumber = descr, part
	return s
}

// waste is a receptacle that is full percent full.
func waste(index, full int) wire.Supply {
	level, capacity := int64(100-full), int64(100)
	return wire.Supply{Index: index, Kind: domain.SupplyWaste, Level: &level, Capacity: &capacity,
		State: domain.LevelMeasured, Receptacle: true, FullPercent: &full}
}

// pollStep is one read in a scenario: what changes from read to read.
type pollStep struct {
	supplies []wire.Supply
	conds    []domain.Condition
	noStatus bool
	meters   map[domain.CounterKind]int64
}

func (p pollStep) read(i int) wire.DeviceRead {
	r := wire.DeviceRead{Serial: "JPBCK31052", Address: "127.0.0.7", ReadAt: t0.Add(time.Duration(i) * time.Hour),
		Supplies: p.supplies}
	if !p.noStatus {
		r.Status = &wire.Status{Device: domain.DeviceRunning, Conditions: p.conds}
	}
	for _, k := range watchedMeters {
		if v, ok := p.meters[k]; ok {
			r.Counters = append(r.Counters, wire.Counter{Kind: k, Value: v})
		}
	}
	return r
}

// sup is a pollStep of supplies only.
func sup(s ...wire.Supply) pollStep { return pollStep{supplies: s} }

// repeat is n copies of a pollStep.
func repeat(n int, p pollStep) []pollStep {
	out := make([]pollStep, n)
	for i := range out {
		out[i] = p
	}
	return out
}

func seq(parts ...any) []pollStep {
	var out []pollStep
	for _, p := range parts {
		switch p := p.(type) {
		case pollStep:
			out = append(out, p)
		case []pollStep:
			out = append(out, p...)
		}
	}
	return out
}

// run feeds the polls to a fresh tracker and returns, per pollStep, the events
// as "kind: message".
func run(t *testing.T, o Options, polls []pollStep) [][]string {
	t.Helper()
	tr := NewTracker(o)
	out := make([][]string, len(polls))
	for i, p := range polls {
		for _, e := range tr.Observe(agent, p.read(i)) {
			out[i] = append(out[i], fmt.Sprintf("%s: %s", e.Kind, e.Message))
		}
	}
	return out
}

// at lists the events expected at some polls; the others expect none.
type at map[int][]string

func TestRules(t *testing.T) {
	jammed := []domain.Condition{domain.CondJammed}
	tests := []struct {
		name  string
		opts  Options
		polls []pollStep
		want  at
	}{
		{"first read of a healthy device raises nothing",
			defaults, seq(sup(toner(1, "black", 80), toner(2, "cyan", 50))), at{}},
		{"crossing below the threshold raises once, staying low raises nothing",
			defaults, seq(sup(toner(2, "cyan", 14)), sup(toner(2, "cyan", 11)), repeat(10, sup(toner(2, "cyan", 8)))),
			at{2: {"toner_low: Cyan toner at 8 %"}}},
		{"the threshold is inclusive",
			defaults, seq(sup(toner(2, "cyan", 11)), sup(toner(2, "cyan", 10))),
			at{1: {"toner_low: Cyan toner at 10 %"}}},
		{"a configured threshold",
			Options{LowPercent: 20}, seq(sup(toner(2, "cyan", 25)), sup(toner(2, "cyan", 19))),
			at{1: {"toner_low: Cyan toner at 19 %"}}},
		{"a device first seen low raises it once",
			defaults, seq(repeat(5, sup(toner(4, "yellow", 3)))),
			at{0: {"toner_low: Yellow toner at 3 %"}}},
		{"a device first seen empty raises empty, not low too",
			defaults, seq(repeat(3, sup(toner(4, "yellow", 0)))),
			at{0: {"toner_empty: Yellow toner empty"}}},
		{"low then empty: one of each",
			defaults, seq(sup(toner(1, "black", 12)), sup(toner(1, "black", 6)), sup(toner(1, "black", 2)), repeat(4, sup(toner(1, "black", 0)))),
			at{1: {"toner_low: Black toner at 6 %"}, 3: {"toner_empty: Black toner empty"}}},
		{"straight from healthy to empty: empty only",
			defaults, seq(sup(toner(1, "black", 40)), sup(toner(1, "black", 0))),
			at{1: {"toner_empty: Black toner empty"}}},
		{"hysteresis: wobbling around the threshold raises once, rising clear re-arms",
			defaults, seq(sup(toner(1, "black", 11)), sup(toner(1, "black", 9)), sup(toner(1, "black", 12)), sup(toner(1, "black", 9)),
				sup(toner(1, "black", 15)), sup(toner(1, "black", 10)), sup(toner(1, "black", 16)), sup(toner(1, "black", 9))),
			at{1: {"toner_low: Black toner at 9 %"}, 7: {"toner_low: Black toner at 9 %"}}},
		{"a shaken empty cartridge does not raise empty again",
			defaults, seq(sup(toner(1, "black", 0)), sup(toner(1, "black", 4)), sup(toner(1, "black", 0))),
			at{0: {"toner_empty: Black toner empty"}}},
		{"some remaining (-3) never raises a percent alert",
			defaults, seq(repeat(5, sup(special(1, "black", domain.LevelSomeRemaining, -3)))), at{}},
		{"unknown, other and over capacity never raise a percent alert",
			defaults, seq(
				sup(special(1, "black", domain.LevelUnknown, -2), special(2, "cyan", domain.LevelOther, -1), special(3, "magenta", domain.LevelOverCapacity, 150)),
				sup(special(1, "black", domain.LevelUnknown, -2), special(2, "cyan", domain.LevelOther, -1), special(3, "magenta", domain.LevelOverCapacity, 150))),
			at{}},
		{"a -3 level turning into a measure is no replacement",
			defaults, seq(sup(toner(1, "black", 5)), sup(special(1, "black", domain.LevelSomeRemaining, -3)), sup(toner(1, "black", 100))),
			at{0: {"toner_low: Black toner at 5 %"}}},
		{"a level turning into -3 and back low raises nothing more",
			defaults, seq(sup(toner(1, "black", 5)), sup(special(1, "black", domain.LevelUnknown, -2)), sup(toner(1, "black", 4))),
			at{0: {"toner_low: Black toner at 5 %"}}},
		{"replacement raises supply_replaced and re-arms low",
			defaults, seq(sup(toner(3, "magenta", 12)), sup(toner(3, "magenta", 8)), sup(toner(3, "magenta", 7)), sup(toner(3, "magenta", 100)),
				sup(toner(3, "magenta", 60)), sup(toner(3, "magenta", 9))),
			at{1: {"toner_low: Magenta toner at 8 %"}, 3: {"supply_replaced: Magenta toner replaced (7 % → 100 %)"}, 5: {"toner_low: Magenta toner at 9 %"}}},
		{"a rise too small is no replacement",
			defaults, seq(sup(toner(3, "magenta", 30)), sup(toner(3, "magenta", 95)), sup(toner(3, "magenta", 20)), sup(toner(3, "magenta", 70))),
			at{}},
		{"a replaced empty cartridge re-arms empty",
			defaults, seq(sup(toner(1, "black", 0)), sup(toner(1, "black", 100)), sup(toner(1, "black", 0))),
			at{0: {"toner_empty: Black toner empty"}, 1: {"supply_replaced: Black toner replaced (0 % → 100 %)"}, 2: {"toner_empty: Black toner empty"}}},
		{"a changed part number is a replacement, whatever the levels say",
			defaults, seq(
				sup(withDescription(special(1, "black", domain.LevelSomeRemaining, -3), "Black Cartridge HP CF410A", "CF410A")),
				sup(withDescription(special(1, "black", domain.LevelSomeRemaining, -3), "Black Cartridge HP CF410X", "CF410X"))),
			at{1: {"supply_replaced: Black toner replaced (part CF410A → CF410X)"}}},
		{"a changed cartridge serial in the description is a replacement",
			defaults, seq(
				sup(withDescription(toner(2, "cyan", 40), "Cyan Toner, PN 006R01512;SN461F0280E0000519", "006R01512")),
				sup(withDescription(toner(2, "cyan", 39), "Cyan Toner, PN 006R01512;SN461F0280E0000519", "006R01512")),
				sup(withDescription(toner(2, "cyan", 45), "Cyan Toner, PN 006R01512;SN461F0280E0000777", "006R01512"))),
			at{2: {"supply_replaced: Cyan toner replaced (new cartridge serial)"}}},
		{"another supply at the same index is no replacement",
			defaults, seq(sup(toner(2, "cyan", 5)), sup(toner(2, "magenta", 100))),
			at{0: {"toner_low: Cyan toner at 5 %"}}},
		{"Ricoh -100: empty once, -3 re-arms it, empty again",
			defaults, seq(sup(special(4, "yellow", domain.LevelEmpty, -100)), sup(special(4, "yellow", domain.LevelEmpty, -100)),
				sup(special(4, "yellow", domain.LevelSomeRemaining, -3)), sup(special(4, "yellow", domain.LevelEmpty, -100))),
			at{0: {"toner_empty: Yellow toner empty"}, 3: {"toner_empty: Yellow toner empty"}}},
		{"Ricoh -100 to a measured level is a replacement",
			defaults, seq(sup(special(4, "yellow", domain.LevelEmpty, -100)), sup(toner(4, "yellow", 100))),
			at{0: {"toner_empty: Yellow toner empty"}, 1: {"supply_replaced: Yellow toner replaced (0 % → 100 %)"}}},
		{"a waste container filling raises no toner alert; emptied, it was replaced",
			defaults, seq(sup(waste(5, 90)), sup(waste(5, 100)), sup(waste(5, 3))),
			at{2: {"supply_replaced: Waste container replaced (0 % → 97 %)"}}},
		{"a read without supplies keeps their state",
			defaults, seq(sup(toner(1, "black", 5)), pollStep{}, sup(toner(1, "black", 5))),
			at{0: {"toner_low: Black toner at 5 %"}}},
		{"a jam raises once per appearance",
			defaults, seq(pollStep{}, repeat(3, pollStep{conds: jammed}), pollStep{}, pollStep{conds: jammed}),
			at{1: {"jam: Paper jam"}, 5: {"jam: Paper jam"}}},
		{"a device first seen jammed raises it",
			defaults, seq(pollStep{conds: jammed}, pollStep{conds: jammed}),
			at{0: {"jam: Paper jam"}}},
		{"a read without status neither clears nor raises conditions",
			defaults, seq(pollStep{conds: jammed}, pollStep{noStatus: true}, pollStep{conds: jammed}),
			at{0: {"jam: Paper jam"}}},
		{"the low_toner condition alone raises toner_low once",
			defaults, seq(
				repeat(3, pollStep{supplies: []wire.Supply{special(1, "black", domain.LevelSomeRemaining, -3)}, conds: []domain.Condition{domain.CondLowToner}})),
			at{0: {"toner_low: Toner low (reported by the device)"}}},
		{"the low_toner condition with a supply alert standing adds nothing",
			defaults, seq(
				pollStep{supplies: []wire.Supply{toner(4, "yellow", 3)}, conds: []domain.Condition{domain.CondLowToner}},
				pollStep{supplies: []wire.Supply{toner(4, "yellow", 3)}, conds: []domain.Condition{domain.CondLowToner}}),
			at{0: {"toner_low: Yellow toner at 3 %"}}},
		{"the no_toner condition raises toner_empty, not low as well",
			defaults, seq(
				pollStep{supplies: []wire.Supply{special(1, "black", domain.LevelSomeRemaining, -3)}},
				pollStep{supplies: []wire.Supply{special(1, "black", domain.LevelSomeRemaining, -3)}, conds: []domain.Condition{domain.CondLowToner, domain.CondNoToner}}),
			at{1: {"toner_empty: Toner empty (reported by the device)"}}},
		{"meters going backwards say which meter",
			defaults, seq(
				pollStep{meters: map[domain.CounterKind]int64{domain.CounterTotal: 123456, domain.CounterBlack: 100000, domain.CounterColour: 23456}},
				pollStep{meters: map[domain.CounterKind]int64{domain.CounterTotal: 1200, domain.CounterBlack: 1200, domain.CounterColour: 23456}},
				pollStep{meters: map[domain.CounterKind]int64{domain.CounterTotal: 1210, domain.CounterBlack: 1210, domain.CounterColour: 23456}}),
			at{1: {"counter_backwards: Total meter went from 123456 to 1200", "counter_backwards: Black meter went from 100000 to 1200"}}},
		{"a meter missing from a read keeps its last value",
			defaults, seq(
				pollStep{meters: map[domain.CounterKind]int64{domain.CounterTotal: 5000}},
				pollStep{meters: map[domain.CounterKind]int64{}},
				pollStep{meters: map[domain.CounterKind]int64{domain.CounterTotal: 4000}}),
			at{2: {"counter_backwards: Total meter went from 5000 to 4000"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, tt.opts, tt.polls)
			for i := range got {
				if !slices.Equal(got[i], tt.want[i]) {
					t.Errorf("read %d: events %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// defaults is the zero Options, which takes every default.
var defaults Options

func TestCartridgeSerial(t *testing.T) {
	tests := map[string]string{
		"Black Toner, PN 006R01509;SN48A17C80E0000512": "48A17C80E0000512",
		"Fuser, PN unknown;SNunknown":                  "",
		"Toner Cartridge S/N: XK123":                   "XK123",
		"Black Cartridge HP CF410A":                    "",
		"Snap-on Staple Cartridge":                     "",
	}
	for descr, want := range tests {
		if got := cartridgeSerial(descr); got != want {
			t.Errorf("cartridgeSerial(%q) = %q, want %q", descr, got, want)
		}
	}
}

func TestSupplyLabel(t *testing.T) {
	tests := []struct {
		s    wire.Supply
		want string
	}{
		{wire.Supply{Kind: domain.SupplyToner, Colour: "cyan"}, "Cyan toner"},
		{wire.Supply{Kind: domain.SupplyInk, Colour: "photo black"}, "Photo black ink"},
		{wire.Supply{Kind: domain.SupplyFuser}, "Fuser"},
		{wire.Supply{Kind: domain.SupplyOther, Description: "élément de nettoyage"}, "Élément de nettoyage"},
		{wire.Supply{Kind: domain.SupplyOther, Index: 7}, "Supply 7"},
	}
	for _, tt := range tests {
		if got := supplyLabel(tt.s); got != tt.want {
			t.Errorf("supplyLabel(%+v) = %q, want %q", tt.s, got, tt.want)
		}
	}
}
