// Package billing holds the rules of billing meter reads (issue 16, seed
// 003): which meters a device bills, and what a read entered by hand on
// the portal must satisfy. Its functions are pure: the store gathers the
// facts, in a transaction, and applies them.
package billing

import (
	"strings"
	"time"

	"github.com/meterline/meterline/shared/domain"
)

// Flags of a billing read (billing_reads.flags, migration 0014): words
// separated by spaces.
const (
	FlagLowerThanPrevious = "lower_than_previous"
	FlagPhoto             = "photo"
	FlagJump              = "jump"
	FlagRegularises       = "regularises"
)

// Bounds of a meter typed in by hand. MaxMeter is nine digits: the
// busiest production printers stay far below a billion pages in their
// life, so a larger number is a typing slip, not a read.
const MaxMeter int64 = 999_999_999

// The jump rule: a read whose usage since the last real read is more than
// JumpFactor times what the device's history (or, without history, the
// contract's expected volume) predicts for the days elapsed, plus
// JumpSlackPages so that a quiet device is not flagged for a busy week,
// is flagged "jump" and reviewed.
const (
	JumpFactor     = 3
	JumpSlackPages = 1000
	// historyMinDays is the shortest history an average daily usage is
	// drawn from; a shorter one says too little.
	historyMinDays = 30
)

// Refusals of a manual read. Test with errors.Is.
var (
	ErrMeterMissing    = domain.Errorf(domain.EINVALID, "a meter the contract bills was not given")
	ErrMeterNegative   = domain.Errorf(domain.EINVALID, "a meter cannot be negative")
	ErrMeterTooLarge   = domain.Errorf(domain.EINVALID, "a meter above %d is not a read", MaxMeter)
	ErrPhotoRequired   = domain.Errorf(domain.EINVALID, "a meter lower than the last billed read needs a photo of the device's counters")
	ErrNothingToRecord = domain.Errorf(domain.EINVALID, "the device bills no meter that can be entered by hand")
)

// Meters says which meters a read of a device gives for its invoice.
type Meters struct {
	Black, Colour bool
}

// Any reports whether there is a meter to read at all.
func (m Meters) Any() bool { return m.Black || m.Colour }

// DeviceFacts is what tells whether a device prints colour and which of
// its meters the contract bills.
type DeviceFacts struct {
	// The contract's billed meters.
	BillsBlack, BillsColour, BillsTotal bool
	// ReportsColour: an agent once reported the device's colour counter.
	ReportsColour bool
	// ColourUnreported: the device's latest agent read says the model has
	// no colour counter.
	ColourUnreported bool
	// BilledColour: a previous billing read of the device has a colour
	// meter.
	BilledColour bool
}

// IsColour decides whether a device prints colour, from what is known of
// it, the most direct evidence first: what its agent said of the model
// (no colour counter, or a colour counter), then whether its invoices
// ever carried a colour meter, and last the contract, which bills colour
// only for a colour device. Model names are not parsed: they do not say
// it reliably ("C" is colour at one maker, a series at another).
func (f DeviceFacts) IsColour() bool {
	switch {
	case f.ColourUnreported:
		return false
	case f.ReportsColour, f.BilledColour:
		return true
	}
	return f.BillsColour
}

// MetersToRead are the meters a customer types in for a device: black
// when the contract bills black or the total (for a mono device the total
// is the black meter), colour on a colour device when the contract bills
// colour or the total (the total is then black plus colour). A colour
// device under a black-only contract gives its black meter only.
func MetersToRead(f DeviceFacts) Meters {
	colour := f.IsColour()
	return Meters{
		Black:  f.BillsBlack || f.BillsTotal,
		Colour: colour && (f.BillsColour || f.BillsTotal),
	}
}

// PastRead is a billing read of an earlier period.
type PastRead struct {
	At            time.Time
	Black, Colour *int64
	// Estimated: the invoice used an estimate, not a read.
	Estimated bool
}

// ManualRead is a read typed in by a customer, with what it is judged
// against.
type ManualRead struct {
	Meters        Meters
	Black, Colour *int64
	HasPhoto      bool
	// Previous is the last billed read of the device (estimated or not),
	// nil for a device never billed.
	Previous *PastRead
	// History are the device's earlier billing reads that were real reads
	// (not estimated), oldest first; the last is what a lower read is
	// compared with.
	History []PastRead
	// ExpectedMonthlyVolume is the contract's, the usage expected when the
	// history is too short.
	ExpectedMonthlyVolume int64
	Now                   time.Time
}

// Verdict is what becomes of an accepted manual read.
type Verdict struct {
	// Black, Colour: the values to record (nil for a meter not read);
	// Total, when the contract bills it, is their sum.
	Black, Colour *int64
	Lower, Jump   bool
	Flags         []string
}

// Review says whether the back office must look at the read: a lower read
// (with its photo) or a jump.
func (v Verdict) Review() bool { return v.Lower || v.Jump }

// FlagText is the flags as billing_reads stores them.
func (v Verdict) FlagText() string { return strings.Join(v.Flags, " ") }

// CheckManualRead applies seed 003's rules to a read typed in by hand:
// every meter read is given, between 0 and MaxMeter; a meter lower than
// the last real read needs a photo (then it is flagged and reviewed); a
// usage far beyond the history is flagged and reviewed; a read after an
// estimate regularises it. A meter not read is ignored.
func CheckManualRead(r ManualRead) (Verdict, error) {
	if !r.Meters.Any() {
		return Verdict{}, ErrNothingToRecord
	}
	var v Verdict
	for _, m := range []struct {
		read  bool
		value *int64
		dst   **int64
	}{{r.Meters.Black, r.Black, &v.Black}, {r.Meters.Colour, r.Colour, &v.Colour}} {
		if !m.read {
			continue
		}
		switch {
		case m.value == nil:
			return Verdict{}, ErrMeterMissing
		case *m.value < 0:
			return Verdict{}, ErrMeterNegative
		case *m.value > MaxMeter:
			return Verdict{}, ErrMeterTooLarge
		}
		x := *m.value
		*m.dst = &x
	}
	var last *PastRead
	if n := len(r.History); n > 0 {
		last = &r.History[n-1]
	}
	if last != nil {
		v.Lower = lower(v.Black, last.Black) || lower(v.Colour, last.Colour)
		v.Jump = jump(r, v, *last)
	}
	if v.Lower && !r.HasPhoto {
		return Verdict{}, ErrPhotoRequired
	}
	if v.Lower {
		v.Flags = append(v.Flags, FlagLowerThanPrevious)
	}
	if r.HasPhoto {
		v.Flags = append(v.Flags, FlagPhoto)
	}
	if v.Jump {
		v.Flags = append(v.Flags, FlagJump)
	}
	if r.Previous != nil && r.Previous.Estimated {
		v.Flags = append(v.Flags, FlagRegularises)
	}
	return v, nil
}

// Total is the total meter of a read: black plus colour, the meters a
// customer reads.
func (v Verdict) Total() int64 {
	var t int64
	if v.Black != nil {
		t += *v.Black
	}
	if v.Colour != nil {
		t += *v.Colour
	}
	return t
}

func lower(now, before *int64) bool { return now != nil && before != nil && *now < *before }

// jump compares the usage since the last real read with the daily usage
// of the history (its first and last real reads, at least historyMinDays
// apart), else with the contract's expected volume; with neither there is
// nothing to judge by.
func jump(r ManualRead, v Verdict, last PastRead) bool {
	used := usage(v.Black, last.Black) + usage(v.Colour, last.Colour)
	if used <= 0 {
		return false
	}
	days := r.Now.Sub(last.At).Hours() / 24
	if days < 1 {
		days = 1
	}
	var perDay float64
	first := r.History[0]
	if span := last.At.Sub(first.At).Hours() / 24; span >= historyMinDays {
		perDay = float64(usage(last.Black, first.Black)+usage(last.Colour, first.Colour)) / span
	}
	if perDay <= 0 && r.ExpectedMonthlyVolume > 0 {
		perDay = float64(r.ExpectedMonthlyVolume) * 12 / 365
	}
	if perDay <= 0 {
		return false
	}
	return float64(used) > JumpFactor*perDay*days+JumpSlackPages
}

// usage is how much a meter went up, 0 when either value is missing or it
// went down.
func usage(now, before *int64) int64 {
	if now == nil || before == nil || *now < *before {
		return 0
	}
	return *now - *before
}
