// Package billing holds the rules of billing meter reads (issue 16, seed
// 003): which meters a device bills, and what a read entered by hand on
// the portal must satisfy. Its functions are pure: the store gathers the
// facts, in a transaction, and applies them.
package billing

import (
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
	// FlagRepeatedEstimate: an estimate that makes Config.EstimatesInARow
	// periods in a row estimated; it waits for review.
	FlagRepeatedEstimate = "repeated_estimate"
)

// Bounds of a meter typed in by hand. MaxMeter is nine digits: the
// busiest production printers stay far below a billion pages in their
// life, so a larger number is a typing slip, not a read.
const MaxMeter int64 = 999_999_999

// Refusals of a manual read. Test with errors.Is.
var (
	ErrMeterMissing    = domain.Errorf(domain.EINVALID, "a meter the contract bills was not given")
	ErrMeterNegative   = domain.Errorf(domain.EINVALID, "a meter cannot be negative")
	ErrMeterTooLarge   = domain.Errorf(domain.EINVALID, "a meter above %d is not a read", MaxMeter)
	ErrPhotoRequired   = domain.Errorf(domain.EINVALID, "a meter lower than the last billed read needs a photo of the device's counters")
	ErrNothingToRecord = domain.Errorf(domain.EINVALID, "the device bills no meter that can be entered by hand")
)

// CheckMeter says what is wrong with a meter value given by a person:
// negative (ErrMeterNegative) or above MaxMeter (ErrMeterTooLarge).
func CheckMeter(v int64) error {
	switch {
	case v < 0:
		return ErrMeterNegative
	case v > MaxMeter:
		return ErrMeterTooLarge
	}
	return nil
}

// Refusals of an opening read. Test with errors.Is.
var (
	ErrOpeningNoMeter = domain.Errorf(domain.EINVALID, "an opening read needs at least one meter")
	ErrOpeningNoTime  = domain.Errorf(domain.EINVALID, "an opening read needs the time it was taken")
	ErrOpeningFuture  = domain.Errorf(domain.EINVALID, "an opening read cannot be taken in the future")
)

// CheckOpening says what is wrong with an opening read (the meters of a
// device when it was put under contract, given by the supplier) at now:
// it needs its time, not after now, and at least one meter, each a
// CheckMeter value.
func CheckOpening(r Reading, now time.Time) error {
	switch {
	case r.At.IsZero():
		return ErrOpeningNoTime
	case r.At.After(now):
		return ErrOpeningFuture
	case !r.Meters.Any(Kinds):
		return ErrOpeningNoMeter
	}
	for _, k := range Kinds {
		if v, ok := r.Meters.Get(k); ok {
			if err := CheckMeter(v); err != nil {
				return err
			}
		}
	}
	return nil
}

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

// ManualRead is a read typed in by a customer, with what it is judged
// against: the facts putRealRead (store) judges an agent's read by.
type ManualRead struct {
	Meters        Meters
	Black, Colour *int64
	HasPhoto      bool
	// Terms are the contract's: the meters it bills (its total is black
	// plus colour), which are the meters compared and judged.
	Terms Terms
	// Last is the device's last real billing read (not an estimate, not
	// rejected): what a lower meter is compared with and a jump measured
	// from; nil for a device never read.
	Last *Reading
	// AfterEstimate: the device's last billing read is an estimate, which
	// this read regularises.
	AfterEstimate bool
	// History is the device's real reads, with its counter resets; Jump
	// the rule a jump is judged by (Config.Jump).
	History History
	Jump    JumpRule
	Now     time.Time
}

// Verdict is what becomes of an accepted manual read.
type Verdict struct {
	// Meters are the values to record: black and colour as read (nil for
	// a meter not read) and, when the contract bills it, the total, their
	// sum.
	Meters      MeterValues
	Lower, Jump bool
	Flags       Flags
}

// Review says whether the back office must look at the read: a lower read
// (with its photo) or a jump.
func (v Verdict) Review() bool { return v.Flags.NeedsReview() }

// CheckManualRead applies seed 003's rules to a read typed in by hand:
// every meter read is given, between 0 and MaxMeter; a meter billed lower
// than the last real read with no reset between (Lower) needs a photo
// (then it is flagged and reviewed); a usage far beyond the history
// (JumpRule.IsJump) is flagged and reviewed; a read after an estimate
// regularises it. A meter not read is ignored.
func CheckManualRead(r ManualRead) (Verdict, error) {
	if !r.Meters.Any() {
		return Verdict{}, ErrNothingToRecord
	}
	var v Verdict
	for _, m := range []struct {
		read  bool
		value *int64
		kind  domain.CounterKind
	}{{r.Meters.Black, r.Black, domain.CounterBlack}, {r.Meters.Colour, r.Colour, domain.CounterColour}} {
		if !m.read {
			continue
		}
		if m.value == nil {
			return Verdict{}, ErrMeterMissing
		}
		if err := CheckMeter(*m.value); err != nil {
			return Verdict{}, err
		}
		v.Meters.Set(m.kind, *m.value)
	}
	if r.Terms.BillsTotal {
		v.Meters.Set(domain.CounterTotal, v.total())
	}
	if r.Last != nil {
		cur, kinds := Reading{At: r.Now, Meters: v.Meters}, r.Terms.Billed()
		v.Lower = len(Lower(*r.Last, cur, kinds, r.History)) > 0
		v.Jump = r.Jump.IsJump(*r.Last, cur, kinds, r.History)
	}
	if v.Lower && !r.HasPhoto {
		return Verdict{}, ErrPhotoRequired
	}
	if v.Lower {
		v.Flags = v.Flags.With(FlagLowerThanPrevious)
	}
	if r.HasPhoto {
		v.Flags = v.Flags.With(FlagPhoto)
	}
	if v.Jump {
		v.Flags = v.Flags.With(FlagJump)
	}
	if r.AfterEstimate {
		v.Flags = v.Flags.With(FlagRegularises)
	}
	return v, nil
}

// total is black plus colour, the meters a customer reads.
func (v Verdict) total() int64 {
	var t int64
	for _, k := range []domain.CounterKind{domain.CounterBlack, domain.CounterColour} {
		if n, ok := v.Meters.Get(k); ok {
			t += n
		}
	}
	return t
}
