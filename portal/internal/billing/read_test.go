package billing

import (
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
)

func agentRead(at time.Time, black int64) AgentRead {
	return AgentRead{Reading: Reading{At: at, Meters: MeterValues{Black: p64(black), Total: p64(black)}}}
}

// TestSelect checks the tolerance window's edges (both included) and the
// choice among the reads in it.
func TestSelect(t *testing.T) {
	w := DefaultConfig().Window
	end := date(2025, 4, 1)
	billed := []domain.CounterKind{domain.CounterBlack}
	ahead := agentRead(end, 999)
	ahead.ClockAhead = true
	tests := []struct {
		name  string
		reads []AgentRead
		want  time.Time
		ok    bool
	}{
		{"no reads", nil, time.Time{}, false},
		{"the first instant of the window counts", []AgentRead{agentRead(end.Add(-10*Day), 1)}, end.Add(-10 * Day), true},
		{"a microsecond before it does not", []AgentRead{agentRead(end.Add(-10*Day-time.Microsecond), 1)}, time.Time{}, false},
		{"the last instant counts", []AgentRead{agentRead(end.Add(6*Day), 1)}, end.Add(6 * Day), true},
		{"a microsecond after it does not", []AgentRead{agentRead(end.Add(6*Day+time.Microsecond), 1)}, time.Time{}, false},
		{"the nearest the end wins", []AgentRead{agentRead(end.Add(-3*Day), 1), agentRead(end.Add(2*Day), 2), agentRead(end.Add(-time.Hour), 3)}, end.Add(-time.Hour), true},
		{"a tie goes to the later", []AgentRead{agentRead(end.Add(-time.Hour), 1), agentRead(end.Add(time.Hour), 2)}, end.Add(time.Hour), true},
		{"a read stamped ahead is ignored", []AgentRead{ahead, agentRead(end.Add(-Day), 1)}, end.Add(-Day), true},
		{"a read without the billed meter is ignored", []AgentRead{
			{Reading: Reading{At: end, Meters: MeterValues{Total: p64(5)}}}, agentRead(end.Add(Day), 1)}, end.Add(Day), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := w.Select(tt.reads, end, billed)
			if ok != tt.ok || (ok && !got.At.Equal(tt.want)) {
				t.Errorf("Select = %s, %v; want %s, %v", got.At, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	f := ParseFlags(" jump  photo other ")
	if got := f.With(FlagLowerThanPrevious).With(FlagJump).String(); got != "lower_than_previous photo jump other" {
		t.Errorf("String = %q", got)
	}
	if !f.NeedsReview() || (Flags{FlagRegularises}).NeedsReview() {
		t.Error("NeedsReview: a jump needs review, a regularisation alone does not")
	}
	if got := (Flags{}).String(); got != "" {
		t.Errorf("empty flags = %q", got)
	}
}

func TestMetersOnly(t *testing.T) {
	m := MeterValues{Black: p64(1), Colour: p64(2), Total: p64(3)}
	got := m.Only(Terms{BillsColour: true, BillsTotal: true})
	if got.Black != nil || *got.Colour != 2 || *got.Total != 3 {
		t.Errorf("Only = %+v", got)
	}
}
