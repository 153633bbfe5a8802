package billing

import (
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
)

// TestIsJump is the one jump rule, as the period close judges an agent's
// read and CheckManualRead a read typed in: on daily agent reads and on
// a person's reads a quarter apart, with the default thresholds (more
// than 3 times the usual daily usage, at least 1,000 pages).
func TestIsJump(t *testing.T) {
	r := DefaultConfig().Jump
	q2 := date(2025, 7, 1)
	both := []domain.CounterKind{domain.CounterBlack, domain.CounterColour}
	// An agent's reads: 100 black and 20 colour pages a day for the 90
	// days before Q2's end, the last real billing read.
	agent := daily(q2.Add(-90*Day), 91, 10000, 100, 4000, 20)
	anchor := agent[90]
	// A quiet device: a page a day.
	quiet := daily(q2.Add(-90*Day), 91, 10000, 1, 0, -1)
	// An idle one: no page in 90 days.
	idle := daily(q2.Add(-90*Day), 91, 10000, 0, 0, -1)
	// A person's reads, a quarter apart (more than the 90 days of the
	// rule's history): 3,000 black pages a quarter.
	person := []Reading{
		{At: date(2024, 10, 4), Meters: meters(10000, -1, -1)},
		{At: date(2025, 1, 6), Meters: meters(13000, -1, -1)},
		{At: date(2025, 4, 7), Meters: meters(16000, -1, -1)},
	}
	// after is a read n days after from, its meters up by the pages
	// given; -1 leaves a meter out.
	after := func(from Reading, n int, black, colour int64) Reading {
		var m MeterValues
		for k, up := range map[domain.CounterKind]int64{domain.CounterBlack: black, domain.CounterColour: colour} {
			if v, ok := from.Meters.Get(k); ok && up >= 0 {
				m.Set(k, v+up)
			}
		}
		return Reading{At: from.At.Add(time.Duration(n) * Day), Meters: m}
	}
	// The reset case: the board is swapped 31 days after Q2's end, its
	// black counter restarting at 5 after 3,000 pages on the old one.
	swapAt := q2.Add(31 * Day)
	swapped := append(append([]Reading{}, agent...),
		Reading{At: q2.Add(30 * Day), Meters: meters(19000+3000, -1, -1)},
		Reading{At: swapAt, Meters: meters(5, -1, -1)})
	heavy := append(append([]Reading{}, agent...), daily(q2.Add(Day), 90, 19100, 2000, -1, -1)...)
	tests := []struct {
		name     string
		reads    []Reading
		resets   []time.Time // of the black meter
		from, to Reading
		kinds    []domain.CounterKind
		want     bool
	}{
		{"usage as usual", agent, nil, anchor, after(anchor, 91, 9100, 1820), both, false},
		{"three times as much is not yet a jump", agent, nil, anchor, after(anchor, 91, 3*9100, 3*1820), both, false},
		{"four times as much is", agent, nil, anchor, after(anchor, 91, 4*9100, 1820), both, true},
		{"one meter is enough", agent, nil, anchor, after(anchor, 91, 9100, 4*1820), both, true},
		{"a meter not billed is not judged", agent, nil, anchor, after(anchor, 91, 9100, 4*1820), []domain.CounterKind{domain.CounterBlack}, false},
		{"a meter the read lacks is not judged", agent, nil, anchor, after(anchor, 91, -1, 1820), both, false},
		{"below the floor is never a jump", quiet, nil, quiet[90], after(quiet[90], 91, 900, -1), both, false},
		{"from the floor up, on an idle device", idle, nil, idle[90], after(idle[90], 91, 1000, -1), both, true},
		{"a history shorter than 30 days judges nothing", agent[80:], nil, anchor, after(anchor, 91, 10*9100, 10*1820), both, false},
		{"reads after the last real read are not its history", heavy, nil, anchor, after(anchor, 91, 91*2000, 1820), both, true},
		{"across a reset, usage from the new counter", swapped, []time.Time{swapAt},
			anchor, Reading{At: q2.Add(91 * Day), Meters: meters(5+40000, -1, -1)}, both, true},
		{"a person's reads: the quarter before the last counts", person, nil, person[2], after(person[2], 91, 3000, -1), both, false},
		{"a person's reads: a jump", person, nil, person[2], after(person[2], 91, 41000, -1), both, true},
		{"a single real read judges nothing", person[2:], nil, person[2], after(person[2], 91, 41000, -1), both, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistory(tt.reads, map[domain.CounterKind][]time.Time{domain.CounterBlack: tt.resets})
			if got := r.IsJump(tt.from, tt.to, tt.kinds, h); got != tt.want {
				t.Errorf("IsJump = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestJumpThresholds: the factor and the floor are the configuration's.
func TestJumpThresholds(t *testing.T) {
	q2 := date(2025, 7, 1)
	agent := daily(q2.Add(-90*Day), 91, 10000, 100, 0, -1)
	h, from := NewHistory(agent, nil), agent[90]
	to := Reading{At: q2.Add(91 * Day), Meters: meters(19000+3*9100, -1, -1)} // three times the usual
	black := []domain.CounterKind{domain.CounterBlack}
	tests := []struct {
		name string
		rule JumpRule
		want bool
	}{
		{"default: 3, 1000", DefaultConfig().Jump, false},
		{"a factor of 2", JumpRule{Factor: 2, Floor: 1000, History: 90 * Day, MinSpan: 30 * Day}, true},
		{"a floor above the usage", JumpRule{Factor: 2, Floor: 30000, History: 90 * Day, MinSpan: 30 * Day}, false},
		{"a history longer than the reads", JumpRule{Factor: 2, Floor: 1000, History: 365 * Day, MinSpan: 100 * Day}, false},
	}
	for _, tt := range tests {
		if got := tt.rule.IsJump(from, to, black, h); got != tt.want {
			t.Errorf("%s: IsJump = %v, want %v", tt.name, got, tt.want)
		}
	}
}
