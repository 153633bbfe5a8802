package billing

import (
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
)

func TestRegularise(t *testing.T) {
	q1, q2, q3 := date(2025, 4, 1), date(2025, 7, 1), date(2025, 10, 1)
	anchor := Reading{At: q1, Meters: meters(10000, 2000, -1)}
	tests := []struct {
		name      string
		estimates []Reading
		real      Reading
		resets    map[domain.CounterKind][]time.Time
		want      []MeterValues
	}{
		{
			name:      "an estimate too low rises to its share of the usage",
			estimates: []Reading{{At: q2, Meters: meters(10100, 2010, -1)}},
			// 91 days to Q2's end, 92 more to the read at Q3's end.
			real: Reading{At: q3, Meters: meters(10000+1830, 2000+183, -1)},
			want: []MeterValues{meters(10000+910, 2000+91, -1)},
		},
		{
			name:      "an estimate too high comes down: neither period is negative",
			estimates: []Reading{{At: q2, Meters: meters(50000, 9000, -1)}},
			real:      Reading{At: q3, Meters: meters(10000+1830, 2000+183, -1)},
			want:      []MeterValues{meters(10000+910, 2000+91, -1)},
		},
		{
			name: "two estimates in a row share the usage by time",
			estimates: []Reading{
				{At: q2, Meters: meters(11000, 2100, -1)},
				{At: q3, Meters: meters(12000, 2200, -1)},
			},
			real: Reading{At: q3.Add(92 * Day), Meters: meters(10000+2750, 2000, -1)},
			want: []MeterValues{meters(10000+910, 2000, -1), meters(10000+1830, 2000, -1)},
		},
		{
			name:      "a real read lower than the anchor: no usage, the estimate falls to the anchor",
			estimates: []Reading{{At: q2, Meters: meters(10500, 2100, -1)}},
			real:      Reading{At: q3, Meters: meters(9000, 2183, -1)},
			want:      []MeterValues{meters(10000, 2091, -1)},
		},
		{
			name:      "across a counter reset the estimate stays",
			estimates: []Reading{{At: q2, Meters: meters(10500, 2100, -1)}},
			real:      Reading{At: q3, Meters: meters(300, 2183, -1)},
			resets:    map[domain.CounterKind][]time.Time{domain.CounterBlack: {q2.Add(10 * Day)}},
			want:      []MeterValues{meters(10500, 2091, -1)},
		},
		{
			name:      "a meter the real read lacks stays",
			estimates: []Reading{{At: q2, Meters: meters(10500, 2100, -1)}},
			real:      Reading{At: q3, Meters: meters(11830, -1, -1)},
			want:      []MeterValues{meters(10910, 2100, -1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Regularise(anchor, tt.estimates, tt.real, NewHistory(nil, tt.resets))
			if len(got) != len(tt.want) {
				t.Fatalf("Regularise gave %d reads, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !got[i].At.Equal(tt.estimates[i].At) || !sameMeters(got[i].Meters, tt.want[i]) {
					t.Errorf("read %d = %s at %s, want %s", i, show(got[i].Meters), got[i].At, show(tt.want[i]))
				}
				// No period goes negative.
				prev := anchor.Meters
				if i > 0 {
					prev = got[i-1].Meters
				}
				for _, k := range []domain.CounterKind{domain.CounterBlack, domain.CounterColour} {
					a, _ := prev.Get(k)
					b, _ := got[i].Meters.Get(k)
					if b < a && len(tt.resets) == 0 {
						t.Errorf("read %d: %s went from %d to %d", i, k, a, b)
					}
				}
			}
		})
	}
}

func TestLower(t *testing.T) {
	prev := Reading{At: date(2025, 4, 1), Meters: meters(1000, 500, -1)}
	cur := Reading{At: date(2025, 7, 1), Meters: meters(900, 600, -1)}
	kinds := []domain.CounterKind{domain.CounterBlack, domain.CounterColour}
	if got := Lower(prev, cur, kinds, History{}); len(got) != 1 || got[0] != domain.CounterBlack {
		t.Errorf("Lower = %v, want [black]", got)
	}
	h := NewHistory(nil, map[domain.CounterKind][]time.Time{domain.CounterBlack: {date(2025, 5, 1)}})
	if got := Lower(prev, cur, kinds, h); len(got) != 0 {
		t.Errorf("Lower across a reset = %v, want none", got)
	}
}
