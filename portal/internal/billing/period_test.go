package billing

import (
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func datep(y int, m time.Month, d int) *time.Time { t := date(y, m, d); return &t }

func TestPeriodOf(t *testing.T) {
	quarterly := Terms{Period: domain.BillingQuarterly, Start: date(2025, 2, 15), End: datep(2026, 5, 10)}
	monthly := Terms{Period: domain.BillingMonthly, Start: date(2025, 1, 1)}
	tests := []struct {
		name  string
		terms Terms
		day   time.Time
		want  Period
		ok    bool
	}{
		{"first quarter clipped to the start", quarterly, date(2025, 3, 31), Period{date(2025, 2, 15), date(2025, 3, 31)}, true},
		{"a whole quarter", quarterly, date(2025, 8, 1), Period{date(2025, 7, 1), date(2025, 9, 30)}, true},
		{"the fourth quarter", quarterly, date(2025, 12, 31), Period{date(2025, 10, 1), date(2025, 12, 31)}, true},
		{"the last quarter clipped to the end", quarterly, date(2026, 4, 1), Period{date(2026, 4, 1), date(2026, 5, 10)}, true},
		{"before the start", quarterly, date(2025, 2, 14), Period{}, false},
		{"after the end", quarterly, date(2026, 5, 11), Period{}, false},
		{"a time of day is its date", quarterly, date(2025, 9, 30).Add(23 * time.Hour), Period{date(2025, 7, 1), date(2025, 9, 30)}, true},
		{"February of a leap year", monthly, date(2028, 2, 29), Period{date(2028, 2, 1), date(2028, 2, 29)}, true},
		{"December", monthly, date(2025, 12, 5), Period{date(2025, 12, 1), date(2025, 12, 31)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.terms.PeriodOf(tt.day)
			if ok != tt.ok || got != tt.want {
				t.Errorf("PeriodOf(%s) = %v, %v; want %v, %v", tt.day.Format(time.DateOnly), got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestLastEndedBy(t *testing.T) {
	quarterly := Terms{Period: domain.BillingQuarterly, Start: date(2025, 2, 15), End: datep(2026, 5, 10)}
	monthly := Terms{Period: domain.BillingMonthly, Start: date(2025, 1, 1)}
	tests := []struct {
		name  string
		terms Terms
		at    time.Time
		want  Period
		ok    bool
	}{
		{"on the stroke of midnight the quarter has ended", quarterly, date(2025, 7, 1), Period{date(2025, 4, 1), date(2025, 6, 30)}, true},
		{"a microsecond before, the quarter before", quarterly, date(2025, 7, 1).Add(-time.Microsecond), Period{date(2025, 2, 15), date(2025, 3, 31)}, true},
		{"none ended yet", quarterly, date(2025, 3, 31).Add(12 * time.Hour), Period{}, false},
		{"before the contract", quarterly, date(2024, 1, 1), Period{}, false},
		{"long after the end: the last period", quarterly, date(2027, 1, 1), Period{date(2026, 4, 1), date(2026, 5, 10)}, true},
		{"monthly, mid-month", monthly, date(2025, 3, 17), Period{date(2025, 2, 1), date(2025, 2, 28)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.terms.LastEndedBy(tt.at)
			if ok != tt.ok || got != tt.want {
				t.Errorf("LastEndedBy(%s) = %v, %v; want %v, %v", tt.at, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPeriodsAndNeighbours(t *testing.T) {
	terms := Terms{Period: domain.BillingQuarterly, Start: date(2025, 2, 15)}
	got := terms.Periods(date(2025, 1, 1), date(2026, 1, 1))
	want := []Period{
		{date(2025, 2, 15), date(2025, 3, 31)},
		{date(2025, 4, 1), date(2025, 6, 30)},
		{date(2025, 7, 1), date(2025, 9, 30)},
		{date(2025, 10, 1), date(2025, 12, 31)},
	}
	if len(got) != len(want) {
		t.Fatalf("Periods = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Periods[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if p, ok := terms.Previous(want[0]); ok {
		t.Errorf("Previous(first) = %v, want none", p)
	}
	if p, ok := terms.Next(want[1]); !ok || p != want[2] {
		t.Errorf("Next(%v) = %v, %v", want[1], p, ok)
	}
	if d := want[1].Days(); d != 91 {
		t.Errorf("Days(Q2) = %d, want 91", d)
	}
}

func TestClosable(t *testing.T) {
	c := DefaultConfig()
	terms := Terms{Period: domain.BillingQuarterly, Start: date(2025, 1, 1)}
	q1 := Period{date(2025, 1, 1), date(2025, 3, 31)}
	end := q1.EndsAt()
	tests := []struct {
		name string
		now  time.Time
		ok   bool
	}{
		{"while the window runs", end.Add(3 * Day), false},
		{"on the window's last instant", end.Add(6 * Day), false},
		{"just after it", end.Add(6*Day + time.Microsecond), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := c.Closable(terms, tt.now)
			if ok != tt.ok || (ok && p != q1) {
				t.Errorf("Closable(%s) = %v, %v; want ok %v", tt.now, p, ok, tt.ok)
			}
		})
	}
}

func TestReminderDue(t *testing.T) {
	c := DefaultConfig()
	invited := date(2025, 4, 8)
	tests := []struct {
		name     string
		n        int
		previous time.Time
		now      time.Time
		want     bool
	}{
		{"first, a day early", 1, time.Time{}, invited.Add(6 * Day), false},
		{"first, on time", 1, time.Time{}, invited.Add(7 * Day), true},
		{"second, on time", 2, invited.Add(7 * Day), invited.Add(14 * Day), true},
		{"second, the first went late: a week after it", 2, invited.Add(12 * Day), invited.Add(14 * Day), false},
		{"second, a week after a late first", 2, invited.Add(12 * Day), invited.Add(19 * Day), true},
		{"third, on time", 3, invited.Add(14 * Day), invited.Add(21 * Day), true},
		{"no fourth", 4, invited.Add(21 * Day), invited.Add(90 * Day), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.ReminderDue(tt.n, invited, tt.previous, tt.now); got != tt.want {
				t.Errorf("ReminderDue(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
	if got := c.ClosesAt(invited.Add(21 * Day)); !got.Equal(invited.Add(23 * Day)) {
		t.Errorf("ClosesAt = %s, want 48 h after the third reminder", got)
	}
}

func TestConfigCheck(t *testing.T) {
	if err := DefaultConfig().Check(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	bad := []func(*Config){
		func(c *Config) { c.Window.Before = -Day },
		func(c *Config) { c.Reminders = [3]time.Duration{7 * Day, 7 * Day, 21 * Day} },
		func(c *Config) { c.MinHistory = 0 },
		func(c *Config) { c.DefaultColourShare = 1.5 },
		func(c *Config) { c.Jump.Factor = 1 },
		func(c *Config) { c.EstimatesInARow = -1 },
	}
	for i, f := range bad {
		c := DefaultConfig()
		f(&c)
		if c.Check() == nil {
			t.Errorf("case %d: Check accepted %+v", i, c)
		}
	}
}

func TestRepeatedEstimate(t *testing.T) {
	for _, tc := range []struct {
		inARow, before int
		want           bool
	}{
		{3, 0, false}, {3, 1, false}, {3, 2, true}, {3, 5, true},
		{1, 0, true},
		{0, 0, false}, {0, 10, false},
	} {
		c := DefaultConfig()
		c.EstimatesInARow = tc.inARow
		if got := c.RepeatedEstimate(tc.before); got != tc.want {
			t.Errorf("EstimatesInARow %d, %d estimated before: RepeatedEstimate = %v, want %v", tc.inARow, tc.before, got, tc.want)
		}
	}
}
