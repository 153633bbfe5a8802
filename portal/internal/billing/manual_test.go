package billing

import (
	"errors"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
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
	colour := Terms{Period: domain.BillingQuarterly, BillsBlack: true, BillsColour: true}
	total := Terms{Period: domain.BillingQuarterly, BillsTotal: true}
	// A year of quarterly reads: 3,000 black and 1,000 colour pages a
	// quarter (about 44 a day).
	reads := []Reading{
		{At: now.AddDate(0, -12, 0), Meters: meters(10000, 5000, -1)},
		{At: now.AddDate(0, -9, 0), Meters: meters(13000, 6000, -1)},
		{At: now.AddDate(0, -6, 0), Meters: meters(16000, 7000, -1)},
		{At: now.AddDate(0, -3, 0), Meters: meters(19000, 8000, -1)},
	}
	history := NewHistory(reads, nil)
	last := &reads[3]
	read := func(m Meters, t Terms, black, colour *int64) ManualRead {
		return ManualRead{Meters: m, Black: black, Colour: colour, Terms: t, Last: last, History: history, Jump: DefaultConfig().Jump, Now: now}
	}
	with := func(r ManualRead, change func(*ManualRead)) ManualRead { change(&r); return r }
	tests := []struct {
		name   string
		in     ManualRead
		err    error
		flags  string
		review bool
		want   MeterValues
	}{
		{name: "a usual quarter", in: read(both, colour, p64(22000), p64(9000)), want: meters(22000, 9000, -1)},
		{name: "the same as last time", in: read(both, colour, p64(19000), p64(8000)), want: meters(19000, 8000, -1)},
		{name: "lower without a photo", in: read(both, colour, p64(18999), p64(9000)), err: ErrPhotoRequired},
		{name: "lower colour with a photo", in: with(read(both, colour, p64(20000), p64(100)), func(r *ManualRead) { r.HasPhoto = true }),
			flags: "lower_than_previous photo", review: true, want: meters(20000, 100, -1)},
		{name: "a photo not needed is kept, not reviewed", in: with(read(both, colour, p64(20000), p64(8500)), func(r *ManualRead) { r.HasPhoto = true }),
			flags: "photo", want: meters(20000, 8500, -1)},
		{name: "lower across a counter reset needs no photo",
			in: with(read(both, colour, p64(300), p64(8500)), func(r *ManualRead) {
				r.History = NewHistory(reads, map[domain.CounterKind][]time.Time{domain.CounterBlack: {now.AddDate(0, -1, 0)}})
			}), want: meters(300, 8500, -1)},
		{name: "a jump far beyond the history", in: read(both, colour, p64(60000), p64(9000)), flags: "jump", review: true, want: meters(60000, 9000, -1)},
		{name: "a jump by the configured rule only", in: with(read(both, colour, p64(60000), p64(9000)), func(r *ManualRead) { r.Jump.Floor = 50000 }),
			want: meters(60000, 9000, -1)},
		{name: "a single real read judges no jump", in: with(read(both, colour, p64(60000), p64(9000)), func(r *ManualRead) { r.History = NewHistory(reads[3:], nil) }),
			want: meters(60000, 9000, -1)},
		{name: "after an estimate: regularises, no photo",
			in: with(read(both, colour, p64(19200), p64(8100)), func(r *ManualRead) { r.AfterEstimate = true }), flags: "regularises", want: meters(19200, 8100, -1)},
		{name: "mono: colour ignored", in: read(Meters{Black: true}, colour, p64(20000), p64(1)), want: meters(20000, -1, -1)},
		{name: "the total billed is black plus colour", in: with(read(both, total, p64(22000), p64(9000)), func(r *ManualRead) {
			r.Last = &Reading{At: last.At, Meters: meters(-1, -1, 27000)}
		}), want: meters(22000, 9000, 31000)},
		{name: "a total lower than the last needs a photo", in: with(read(both, total, p64(22000), p64(4000)), func(r *ManualRead) {
			r.Last = &Reading{At: last.At, Meters: meters(-1, -1, 27000)}
		}), err: ErrPhotoRequired},
		{name: "first read ever", in: ManualRead{Meters: both, Terms: colour, Black: p64(5), Colour: p64(0), Now: now}, want: meters(5, 0, -1)},
		{name: "colour missing", in: read(both, colour, p64(20000), nil), err: ErrMeterMissing},
		{name: "negative", in: read(both, colour, p64(-1), p64(0)), err: ErrMeterNegative},
		{name: "absurd", in: read(both, colour, p64(MaxMeter+1), p64(0)), err: ErrMeterTooLarge},
		{name: "the largest meter", in: ManualRead{Meters: Meters{Black: true}, Terms: colour, Black: p64(MaxMeter), Now: now}, want: meters(MaxMeter, -1, -1)},
		{name: "nothing to read", in: ManualRead{}, err: ErrNothingToRecord},
	}
	for _, tt := range tests {
		v, err := CheckManualRead(tt.in)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
			continue
		}
		if err != nil {
			continue
		}
		if v.Flags.String() != tt.flags || v.Review() != tt.review || !sameMeters(v.Meters, tt.want) {
			t.Errorf("%s: %s, flags %q, review %v; want %s, %q, %v", tt.name, show(v.Meters), v.Flags, v.Review(), show(tt.want), tt.flags, tt.review)
		}
	}
}

func TestCheckOpening(t *testing.T) {
	now := time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)
	at := now.Add(-30 * Day)
	for _, tc := range []struct {
		name string
		r    Reading
		want error
	}{
		{"black and colour", Reading{At: at, Meters: MeterValues{Black: p64(1000), Colour: p64(0)}}, nil},
		{"total only, now", Reading{At: now, Meters: MeterValues{Total: p64(5)}}, nil},
		{"no time", Reading{Meters: MeterValues{Black: p64(1)}}, ErrOpeningNoTime},
		{"future", Reading{At: now.Add(time.Minute), Meters: MeterValues{Black: p64(1)}}, ErrOpeningFuture},
		{"no meter", Reading{At: at}, ErrOpeningNoMeter},
		{"negative", Reading{At: at, Meters: MeterValues{Black: p64(1), Colour: p64(-1)}}, ErrMeterNegative},
		{"too large", Reading{At: at, Meters: MeterValues{Total: p64(MaxMeter + 1)}}, ErrMeterTooLarge},
	} {
		if err := CheckOpening(tc.r, now); !errors.Is(err, tc.want) {
			t.Errorf("%s: CheckOpening = %v, want %v", tc.name, err, tc.want)
		}
	}
}
