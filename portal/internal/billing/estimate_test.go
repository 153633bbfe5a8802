package billing

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
)

// daily returns a read a day from start for n days, black going up by
// blackPerDay and colour by colourPerDay (colourPerDay < 0: a mono
// device), total the sum.
func daily(start time.Time, n int, black0, blackPerDay, colour0, colourPerDay int64) []Reading {
	out := make([]Reading, n)
	for i := range n {
		b := black0 + int64(i)*blackPerDay
		m := MeterValues{Black: p64(b), Total: p64(b)}
		if colourPerDay >= 0 {
			c := colour0 + int64(i)*colourPerDay
			m.Colour, m.Total = p64(c), p64(b+c)
		}
		out[i] = Reading{At: start.Add(time.Duration(i) * Day), Meters: m}
	}
	return out
}

func meters(black, colour, total int64) MeterValues {
	m := MeterValues{}
	for k, v := range map[domain.CounterKind]int64{domain.CounterBlack: black, domain.CounterColour: colour, domain.CounterTotal: total} {
		if v >= 0 {
			m.Set(k, v)
		}
	}
	return m
}

func TestEstimate(t *testing.T) {
	c := DefaultConfig()
	end := date(2025, 7, 1)
	colourTerms := Terms{Period: domain.BillingQuarterly, Start: date(2024, 1, 1), BillsBlack: true, BillsColour: true, ExpectedMonthlyVolume: 3650}
	allTerms := colourTerms
	allTerms.BillsTotal = true
	blackOnly := Terms{Period: domain.BillingQuarterly, Start: date(2024, 1, 1), BillsBlack: true, ExpectedMonthlyVolume: 3650}

	// 120 days of reads up to 10 days before the end: 100 black and 20
	// colour pages a day.
	long := daily(end.Add(-129*Day), 120, 10000, 100, 5000, 20)
	lastOfLong := long[len(long)-1]
	// 60 days only, 75 black and 25 colour a day.
	short := daily(end.Add(-69*Day), 60, 10000, 75, 5000, 25)
	lastOfShort := short[len(short)-1]
	// A board swap on day 60 of 120: the counters start again near 0.
	swapped := daily(end.Add(-129*Day), 60, 10000, 100, 5000, 20)
	swapped = append(swapped, daily(end.Add(-69*Day), 60, 10, 100, 5, 20)...)
	resetAt := end.Add(-69 * Day)
	swapResets := map[domain.CounterKind][]time.Time{domain.CounterBlack: {resetAt}, domain.CounterColour: {resetAt}, domain.CounterTotal: {resetAt}}

	tests := []struct {
		name    string
		terms   Terms
		last    *Reading
		reads   []Reading
		resets  map[domain.CounterKind][]time.Time
		want    MeterValues
		method  string
		wantErr error
	}{
		{
			name:  "history: the latest read plus the daily average times the days",
			terms: allTerms, last: &Reading{At: end.Add(-91 * Day), Meters: meters(12000, 5400, 17400)},
			reads:  long,
			want:   meters(*lastOfLong.Meters.Black+1000, *lastOfLong.Meters.Colour+200, *lastOfLong.Meters.Total+1200),
			method: "history:119d",
		},
		{
			name:  "a counter reset: usage restarts, the average stays",
			terms: colourTerms, reads: swapped, resets: swapResets,
			// 2 × 59 days of 100 and 20 pages over 119 days, for 10 days.
			want:   meters(10+59*100+992, 5+59*20+198, -1),
			method: "history:119d",
		},
		{
			name:  "too little history: the contract's volume split by the device's share",
			terms: colourTerms, last: &Reading{At: end.Add(-91 * Day), Meters: meters(9000, 4000, -1)},
			reads: short,
			// 3650 a month = 120 a day, a quarter of it colour; 10 days.
			want:   meters(*lastOfShort.Meters.Black+900, *lastOfShort.Meters.Colour+300, -1),
			method: MethodContractVolume,
		},
		{
			name:  "no reads: the contract's volume from the last billing read, the default share",
			terms: allTerms, last: &Reading{At: end.Add(-91 * Day), Meters: meters(1000, 500, 1500)},
			want:   meters(1000+8190, 500+2730, 1500+10920),
			method: MethodContractVolume,
		},
		{
			name:  "a contract billing black only gives black the whole volume",
			terms: blackOnly, last: &Reading{At: end.Add(-91 * Day), Meters: meters(1000, 500, 1500)},
			want:   meters(1000+10920, -1, -1),
			method: MethodContractVolume,
		},
		{
			name:  "a mono device gives black the whole volume",
			terms: colourTerms, reads: daily(end.Add(-29*Day), 20, 100, 50, 0, -1),
			want:   meters(100+19*50+1200, -1, -1),
			method: MethodContractVolume,
		},
		{
			name:  "reads on both sides of the end: interpolated",
			terms: colourTerms,
			reads: []Reading{
				{At: end.Add(-4 * Day), Meters: meters(1000, 100, -1)},
				{At: end.Add(12 * Day), Meters: meters(2600, 260, -1)},
			},
			want:   meters(1400, 140, -1),
			method: MethodInterpolated,
		},
		{
			name:  "never below the last billing read",
			terms: colourTerms, last: &Reading{At: end.Add(-91 * Day), Meters: meters(50000, 20000, -1)},
			reads:  short,
			want:   meters(50000, 20000, -1),
			method: MethodContractVolume,
		},
		{
			name: "nothing known", terms: colourTerms, wantErr: ErrNoBase,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Estimate(tt.terms, end, tt.last, NewHistory(tt.reads, tt.resets))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Estimate error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got.Method != tt.method || !sameMeters(got.Meters, tt.want) {
				t.Errorf("Estimate = %s %s, want %s %s", show(got.Meters), got.Method, show(tt.want), tt.method)
			}
		})
	}
}

func sameMeters(a, b MeterValues) bool {
	for _, k := range Kinds {
		x, ok1 := a.Get(k)
		y, ok2 := b.Get(k)
		if ok1 != ok2 || x != y {
			return false
		}
	}
	return true
}

func show(m MeterValues) string {
	s := ""
	for _, k := range Kinds {
		if v, ok := m.Get(k); ok {
			s += string(k) + "=" + itoa(v) + " "
		}
	}
	return "{" + s + "}"
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
