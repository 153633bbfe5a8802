package billing

import (
	"time"

	"github.com/meterline/meterline/shared/domain"
)

// Period is a billing period: calendar dates (midnight UTC), both
// included.
type Period struct {
	Start, End time.Time
}

// EndsAt is the instant the period ends: midnight UTC after its last day.
func (p Period) EndsAt() time.Time { return p.End.Add(Day) }

// Days is how many days the period has.
func (p Period) Days() int { return int(p.EndsAt().Sub(p.Start) / Day) }

// Terms are what of a contract billing reads: how often it bills, from
// when to when, which meters, and the volume expected.
type Terms struct {
	Period domain.BillingPeriod
	// Start and End are dates; End nil: open-ended.
	Start time.Time
	End   *time.Time
	// The meters billed.
	BillsBlack, BillsColour, BillsTotal bool
	// ExpectedMonthlyVolume is the contract's pages a month, all meters
	// and all the devices it bills together (Estimate shares it out).
	ExpectedMonthlyVolume int64
}

// Date is the calendar date of t in UTC, at midnight.
func Date(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// months is how many calendar months a period of the contract spans.
func (t Terms) months() int {
	if t.Period == domain.BillingMonthly {
		return 1
	}
	return 3
}

// calendarStart is the first day of the calendar month or quarter day is
// in.
func (t Terms) calendarStart(day time.Time) time.Time {
	y, m, _ := day.Date()
	n := t.months()
	m = time.Month((int(m)-1)/n*n + 1)
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

// PeriodOf returns the period of the contract the date day is in: its
// calendar month (monthly) or quarter (quarterly, January to March…),
// clipped to the contract's start and end. false: the contract does not
// run that day.
func (t Terms) PeriodOf(day time.Time) (Period, bool) {
	day = Date(day)
	start, end := Date(t.Start), t.end()
	if day.Before(start) || (end != nil && day.After(*end)) {
		return Period{}, false
	}
	s := t.calendarStart(day)
	p := Period{Start: s, End: s.AddDate(0, t.months(), 0).Add(-Day)}
	if p.Start.Before(start) {
		p.Start = start
	}
	if end != nil && p.End.After(*end) {
		p.End = *end
	}
	return p, true
}

func (t Terms) end() *time.Time {
	if t.End == nil {
		return nil
	}
	e := Date(*t.End)
	return &e
}

// Previous returns the period before p, false when p is the contract's
// first.
func (t Terms) Previous(p Period) (Period, bool) {
	return t.PeriodOf(p.Start.Add(-Day))
}

// Next returns the period after p, false when p is the contract's last.
func (t Terms) Next(p Period) (Period, bool) {
	return t.PeriodOf(p.EndsAt())
}

// LastEndedBy returns the latest period of the contract that has ended
// at at (EndsAt not after at), false when none has.
func (t Terms) LastEndedBy(at time.Time) (Period, bool) {
	// The period of the last whole day before at…
	lastDay := Date(at.Add(-Day))
	if end := t.end(); end != nil && lastDay.After(*end) {
		lastDay = *end
	}
	p, ok := t.PeriodOf(lastDay)
	if !ok {
		return Period{}, false
	}
	if !p.EndsAt().After(at) {
		return p, true
	}
	// …unless it is still running: then the one before.
	return t.Previous(p)
}

// Periods lists the contract's periods that end in (from, to], in order.
func (t Terms) Periods(from, to time.Time) []Period {
	var out []Period
	p, ok := t.LastEndedBy(to)
	for ok && p.EndsAt().After(from) {
		out = append(out, p)
		p, ok = t.Previous(p)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// Billed lists the meters the contract bills, black, colour, total.
func (t Terms) Billed() []domain.CounterKind {
	var out []domain.CounterKind
	if t.BillsBlack {
		out = append(out, domain.CounterBlack)
	}
	if t.BillsColour {
		out = append(out, domain.CounterColour)
	}
	if t.BillsTotal {
		out = append(out, domain.CounterTotal)
	}
	return out
}

// Bills reports whether the contract bills the meter.
func (t Terms) Bills(k domain.CounterKind) bool {
	switch k {
	case domain.CounterBlack:
		return t.BillsBlack
	case domain.CounterColour:
		return t.BillsColour
	case domain.CounterTotal:
		return t.BillsTotal
	}
	return false
}

// Closable returns the latest period of the contract a close at now
// handles: the latest one whose tolerance window is over (it ended more
// than the window's After ago), false when none is. (A close also catches
// up the periods before it that were missed: store.ClosePeriods.)
func (c Config) Closable(t Terms, now time.Time) (Period, bool) {
	// Strictly more than After ago, at the database's microsecond: a read
	// stamped on the window's last instant still counts.
	return t.LastEndedBy(now.Add(-c.Window.After - time.Microsecond))
}
