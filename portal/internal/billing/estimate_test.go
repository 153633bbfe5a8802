package billing

import (
	"errors"
	"math"
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
			got, err := c.Estimate(tt.terms, end, tt.last, NewHistory(tt.reads, tt.resets), NoPeers)
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

// peersOf is a Peers giving hs.
func peersOf(hs ...History) Peers {
	return func(time.Time, time.Time) ([]History, error) { return hs, nil }
}

func TestEstimateFromContract(t *testing.T) {
	c := DefaultConfig()
	end := date(2025, 7, 1)
	// 3650 pages a month: 120 a day.
	blackOnly := Terms{Period: domain.BillingQuarterly, Start: date(2024, 1, 1), BillsBlack: true, ExpectedMonthlyVolume: 3650}
	colourTerms := blackOnly
	colourTerms.BillsColour = true
	one := func(at time.Time, black, colour int64) []Reading {
		return []Reading{{At: at, Meters: meters(black, colour, -1)}}
	}
	// A device of the contract read every day for 120 days up to 10 days
	// before the end: 40 black and 10 colour pages a day.
	known := NewHistory(daily(end.Add(-129*Day), 120, 1000, 40, 500, 10), nil)
	// One printing 150 pages a day: more than the contract expects.
	busy := NewHistory(daily(end.Add(-129*Day), 120, 1000, 150, 0, -1), nil)
	// Devices with too short a history: 10 pages a day over 10 days, a
	// single read, no read at all.
	short := NewHistory([]Reading{{At: end.Add(-40 * Day), Meters: meters(100, -1, -1)}, {At: end.Add(-30 * Day), Meters: meters(200, -1, -1)}}, nil)
	single := NewHistory(one(end.Add(-40*Day), 100, 50), nil)

	tests := []struct {
		name   string
		terms  Terms
		last   *Reading
		reads  []Reading
		peers  []History
		want   MeterValues
		method string
	}{
		{
			name:  "the contract's volume less what its device with history printed",
			terms: blackOnly, reads: one(end.Add(-30*Day), 5000, -1), peers: []History{known},
			// (120 − 50) a day for 30 days.
			want: meters(5000+2100, -1, -1), method: MethodContractRemainder,
		},
		{
			name:  "the rest shared by the pages a day the short histories show",
			terms: blackOnly, peers: []History{known, short},
			reads: []Reading{{At: end.Add(-40 * Day), Meters: meters(5000, -1, -1)}, {At: end.Add(-30 * Day), Meters: meters(5300, -1, -1)}},
			// 30 pages a day against the other's 10: three quarters.
			want: meters(5300+1575, -1, -1), method: MethodContractRemainder,
		},
		{
			name:  "equal parts when one of them shows no usage",
			terms: blackOnly, reads: one(end.Add(-30*Day), 5000, -1), peers: []History{known, short},
			want: meters(5000+1050, -1, -1), method: MethodContractRemainder,
		},
		{
			name:  "never negative: the others printed more than the contract expects",
			terms: blackOnly, reads: one(end.Add(-30*Day), 5000, -1), peers: []History{busy},
			want: meters(5000, -1, -1), method: MethodContractRemainder,
		},
		{
			name:  "nothing known of the others: an equal share",
			terms: blackOnly, reads: one(end.Add(-30*Day), 5000, -1), peers: []History{single, {}},
			want: meters(5000+1200, -1, -1), method: MethodContractVolume,
		},
		{
			name:  "anchored on the last real read, not on the estimate after it",
			terms: blackOnly, reads: one(end.Add(-120*Day), 5000, -1), peers: []History{known},
			last: &Reading{At: end.Add(-30 * Day), Meters: meters(5100, -1, -1)},
			// From the read 120 days before: 70 × 120, not 5100 + 70 × 30.
			want: meters(5000+8400, -1, -1), method: MethodContractRemainder,
		},
		{
			name:  "a colour meter that never left 0 is a mono device's: black takes all",
			terms: colourTerms, reads: one(end.Add(-30*Day), 5000, 0),
			want: meters(5000+3600, 0, -1), method: MethodContractVolume,
		},
		{
			name:  "history: anchored on the last real read too",
			terms: colourTerms, reads: daily(end.Add(-219*Day), 120, 10000, 100, 5000, 20),
			last: &Reading{At: end.Add(-91 * Day), Meters: meters(22000, 7400, -1)},
			// The last read (100 days before: 21,900 and 7,380) plus 100
			// days at 100 and 20, not the estimate plus 91 days.
			want: meters(31900, 9380, -1), method: "history:119d",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Estimate(tt.terms, end, tt.last, NewHistory(tt.reads, nil), peersOf(tt.peers...))
			if err != nil {
				t.Fatal(err)
			}
			if got.Method != tt.method || !sameMeters(got.Meters, tt.want) {
				t.Errorf("Estimate = %s %s, want %s %s", show(got.Meters), got.Method, show(tt.want), tt.method)
			}
		})
	}

	// The others are read only when the device's own history falls
	// short.
	failing := func(time.Time, time.Time) ([]History, error) { return nil, errors.New("not to be read") }
	if _, err := c.Estimate(colourTerms, end, nil, NewHistory(daily(end.Add(-129*Day), 120, 1000, 40, 500, 10), nil), failing); err != nil {
		t.Errorf("Estimate with enough history read the others: %v", err)
	}
	if _, err := c.Estimate(colourTerms, end, nil, NewHistory(one(end.Add(-30*Day), 5000, 100), nil), failing); err == nil {
		t.Error("Estimate from the contract: the others' error was lost")
	}
}

func TestPagesOver(t *testing.T) {
	c := DefaultConfig()
	start := date(2025, 1, 1)
	at := func(d float64) time.Time { return start.Add(time.Duration(d * float64(Day))) }
	// 100 days of reads a day: 30 black and 10 colour pages a day.
	steady := NewHistory(daily(start, 101, 1000, 30, 100, 10), nil)
	// 100 days, black only; a board swap on day 50 (the meter starts
	// again at 7).
	swapped := NewHistory(append(daily(start, 50, 1000, 20, 0, -1), daily(at(50), 51, 7, 20, 0, -1)...),
		map[domain.CounterKind][]time.Time{domain.CounterBlack: {at(50)}, domain.CounterTotal: {at(50)}})
	// Every 10 days only, total only, 50 a day.
	totalOnly := NewHistory([]Reading{{At: start, Meters: meters(-1, -1, 0)}, {At: at(100), Meters: meters(-1, -1, 5000)}}, nil)
	tests := []struct {
		name     string
		h        History
		from, to time.Time
		want     float64
		ok       bool
	}{
		{"between reads", steady, at(10.5), at(20.5), 400, true},
		{"beyond the last read, at the average", steady, at(90), at(110), 800, true},
		{"before the first read, at the average", steady, at(-10), at(10), 800, true},
		{"across a board swap: nothing counted for the swap itself", swapped, at(40), at(60), 20*9 + 20*10, true},
		{"total for a device without a black meter", totalOnly, at(20), at(30), 500, true},
		{"too short a history", NewHistory(daily(start, 60, 1000, 30, 100, 10), nil), at(10), at(20), 0, false},
		{"no reads", History{}, at(10), at(20), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := c.pagesOver(tt.h, tt.from, tt.to)
			if ok != tt.ok || math.Abs(got-tt.want) > 1e-6 {
				t.Errorf("pagesOver = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestMethodFamily(t *testing.T) {
	for _, tc := range []struct{ method, want string }{
		{MethodHistory(182), MethodFamilyHistory},
		{MethodHistory(90), MethodFamilyHistory},
		{MethodInterpolated, MethodInterpolated},
		{MethodContractRemainder, MethodContractRemainder},
		{MethodSpread, MethodSpread},
		{"", ""},
	} {
		if got := MethodFamily(tc.method); got != tc.want {
			t.Errorf("MethodFamily(%q) = %q, want %q", tc.method, got, tc.want)
		}
	}
}
