package billing

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func p64(v int64) *int64 { return &v }

func TestMetersToRead(t *testing.T) {
	tests := []struct {
		name  string
		facts DeviceFacts
		want  Meters
	}{
		{"mono contract, nothing known", DeviceFacts{BillsBlack: true}, Meters{Black: true}},
		{"colour contract, nothing known", DeviceFacts{BillsBlack: true, BillsColour: true}, Meters{Black: true, Colour: true}},
		{"colour contract, agent says no colour counter", DeviceFacts{BillsBlack: true, BillsColour: true, ColourUnreported: true}, Meters{Black: true}},
		{"black-only contract of a colour device", DeviceFacts{BillsBlack: true, ReportsColour: true}, Meters{Black: true}},
		{"total of a colour device", DeviceFacts{BillsTotal: true, BilledColour: true}, Meters{Black: true, Colour: true}},
		{"total of a mono device", DeviceFacts{BillsTotal: true}, Meters{Black: true}},
		{"colour only", DeviceFacts{BillsColour: true}, Meters{Colour: true}},
		{"the agent's colour counter wins over a past invoice", DeviceFacts{BillsBlack: true, BillsColour: true, ColourUnreported: true, BilledColour: true}, Meters{Black: true}},
	}
	for _, tt := range tests {
		if got := MetersToRead(tt.facts); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestCheckManualRead(t *testing.T) {
	now := time.Date(2026, 4, 3, 10, 0, 0, 0, time.UTC)
	both := Meters{Black: true, Colour: true}
	// A year of quarterly reads: 3,000 black and 1,000 colour pages a
	// quarter (about 44 a day).
	history := []PastRead{
		{At: now.AddDate(0, -12, 0), Black: p64(10000), Colour: p64(5000)},
		{At: now.AddDate(0, -9, 0), Black: p64(13000), Colour: p64(6000)},
		{At: now.AddDate(0, -6, 0), Black: p64(16000), Colour: p64(7000)},
		{At: now.AddDate(0, -3, 0), Black: p64(19000), Colour: p64(8000)},
	}
	estimated := &PastRead{At: now.AddDate(0, -3, 0), Black: p64(19500), Colour: p64(8200), Estimated: true}
	lastRead := &history[3]
	tests := []struct {
		name      string
		in        ManualRead
		err       error
		flags     []string
		review    bool
		black     *int64
		colour    *int64
		wantTotal int64
	}{
		{name: "a usual quarter", in: ManualRead{Meters: both, Black: p64(22000), Colour: p64(9000), Previous: lastRead, History: history},
			black: p64(22000), colour: p64(9000), wantTotal: 31000},
		{name: "the same as last time", in: ManualRead{Meters: both, Black: p64(19000), Colour: p64(8000), Previous: lastRead, History: history},
			black: p64(19000), colour: p64(8000), wantTotal: 27000},
		{name: "lower without a photo", in: ManualRead{Meters: both, Black: p64(18999), Colour: p64(9000), Previous: lastRead, History: history},
			err: ErrPhotoRequired},
		{name: "lower colour with a photo", in: ManualRead{Meters: both, Black: p64(20000), Colour: p64(100), HasPhoto: true, Previous: lastRead, History: history},
			flags: []string{FlagLowerThanPrevious, FlagPhoto}, review: true, black: p64(20000), colour: p64(100), wantTotal: 20100},
		{name: "a photo not needed is kept, not reviewed", in: ManualRead{Meters: both, Black: p64(20000), Colour: p64(8500), HasPhoto: true, Previous: lastRead, History: history},
			flags: []string{FlagPhoto}, black: p64(20000), colour: p64(8500), wantTotal: 28500},
		{name: "a jump far beyond the history", in: ManualRead{Meters: both, Black: p64(60000), Colour: p64(9000), Previous: lastRead, History: history, Now: now},
			flags: []string{FlagJump}, review: true, black: p64(60000), colour: p64(9000), wantTotal: 69000},
		{name: "below the estimate, above the last read: regularises, no photo", in: ManualRead{Meters: both, Black: p64(19200), Colour: p64(8100), Previous: estimated, History: history, Now: now},
			flags: []string{FlagRegularises}, black: p64(19200), colour: p64(8100), wantTotal: 27300},
		{name: "mono: colour ignored", in: ManualRead{Meters: Meters{Black: true}, Black: p64(20000), Colour: p64(1), Previous: lastRead, History: history},
			black: p64(20000), wantTotal: 20000},
		{name: "first read ever", in: ManualRead{Meters: both, Black: p64(5), Colour: p64(0)}, black: p64(5), colour: p64(0), wantTotal: 5},
		{name: "colour missing", in: ManualRead{Meters: both, Black: p64(20000)}, err: ErrMeterMissing},
		{name: "negative", in: ManualRead{Meters: both, Black: p64(-1), Colour: p64(0)}, err: ErrMeterNegative},
		{name: "absurd", in: ManualRead{Meters: both, Black: p64(MaxMeter + 1), Colour: p64(0)}, err: ErrMeterTooLarge},
		{name: "the largest meter", in: ManualRead{Meters: Meters{Black: true}, Black: p64(MaxMeter)}, black: p64(MaxMeter), wantTotal: MaxMeter},
		{name: "nothing to read", in: ManualRead{}, err: ErrNothingToRecord},
	}
	for _, tt := range tests {
		if tt.in.Now.IsZero() {
			tt.in.Now = now
		}
		v, err := CheckManualRead(tt.in)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
			continue
		}
		if err != nil {
			continue
		}
		if !slices.Equal(v.Flags, tt.flags) || v.Review() != tt.review || !same(v.Black, tt.black) || !same(v.Colour, tt.colour) || v.Total() != tt.wantTotal {
			t.Errorf("%s: %+v (flags %q, review %v, total %d)", tt.name, v, v.FlagText(), v.Review(), v.Total())
		}
	}
}

// TestJumpWithoutHistory: with a single real read the contract's expected
// volume is the measure; with neither nothing is flagged.
func TestJumpWithoutHistory(t *testing.T) {
	now := time.Date(2026, 4, 3, 10, 0, 0, 0, time.UTC)
	last := []PastRead{{At: now.AddDate(0, -3, 0), Black: p64(1000)}}
	mono := Meters{Black: true}
	// 3,000 pages a month: about 9,000 a quarter, flagged past about 28,000.
	ok, _ := CheckManualRead(ManualRead{Meters: mono, Black: p64(20000), History: last, ExpectedMonthlyVolume: 3000, Now: now})
	far, _ := CheckManualRead(ManualRead{Meters: mono, Black: p64(40000), History: last, ExpectedMonthlyVolume: 3000, Now: now})
	none, _ := CheckManualRead(ManualRead{Meters: mono, Black: p64(900000), History: last, Now: now})
	if ok.Jump || !far.Jump || none.Jump {
		t.Errorf("jump: within %v, far %v, no measure %v", ok.Jump, far.Jump, none.Jump)
	}
}

func same(a, b *int64) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }
