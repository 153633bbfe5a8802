package store_test

import (
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/portal/internal/mail/mailtest"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
)

const billingPortalURL = "https://portal.meterline.test"

// testClock is the store's clock, moved by the test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// usage is a device's true meters: black and colour pages a day from a
// start, as a simulator would print them.
type usage struct {
	start               time.Time
	black0, colour0     int64
	blackDay, colourDay int64
	// swapAt, when set, is a board swap: the meters start again from 10
	// and 5.
	swapAt time.Time
}

func (u usage) at(t time.Time) storetest.Meters {
	from, b0, c0 := u.start, u.black0, u.colour0
	if !u.swapAt.IsZero() && !t.Before(u.swapAt) {
		from, b0, c0 = u.swapAt, 10, 5
	}
	days := float64(t.Sub(from)) / float64(billing.Day)
	b, c := b0+int64(days*float64(u.blackDay)), c0+int64(days*float64(u.colourDay))
	tot := b + c
	return storetest.Meters{At: t, Black: &b, Colour: &c, Total: &tot}
}

// reads are the device's daily reads at 08:00 from first to last
// (dates), skipping none.
func (u usage) reads(first, last time.Time) []storetest.Meters {
	var out []storetest.Meters
	for d := first; !d.After(last); d = d.Add(billing.Day) {
		out = append(out, u.at(d.Add(8*time.Hour)))
	}
	return out
}

// billingFixture is an account with a quarterly contract from 2024-10-01
// billing black and colour, its primary user (French) and a meter-read
// contact (English).
type billingFixture struct {
	s        *store.Store
	clock    *testClock
	f        fixture
	contact  store.User
	devices  map[string]store.ContractedDevice
	smtp     *mailtest.Server
	ctx      context.Context
	t        *testing.T
	contract store.Contract
}

func newBillingFixture(t *testing.T, url string) *billingFixture {
	t.Helper()
	s, ctx := openMigrated(t, url), context.Background()
	clock := &testClock{t: date(2024, 7, 1)}
	s.SetClock(clock.Now)
	f := customer(t, s, "BILL-1")
	contract, err := s.CreateContract(ctx, store.Contract{Number: "CB-1", AccountID: f.account.ID, BillingPeriod: domain.BillingQuarterly,
		BillsBlack: true, BillsColour: true, Start: date(2024, 10, 1), ExpectedMonthlyVolume: 3000})
	if err != nil {
		t.Fatal(err)
	}
	contact, err := s.CreateUser(ctx, store.User{Email: "reads@bill-1.example", Name: "Ann Reader", Language: domain.LanguageEnglish})
	if err != nil {
		t.Fatal(err)
	}
	member(t, s, contact.ID, f.account.ID, domain.RoleDelegate)
	return &billingFixture{s: s, clock: clock, f: f, contact: contact, contract: contract, devices: map[string]store.ContractedDevice{},
		smtp: mailtest.Start(t), ctx: ctx, t: t}
}

// device puts a serial under the contract, its meter-read contact the
// English user when contact is set.
func (b *billingFixture) device(serial string, contact bool) store.ContractedDevice {
	b.t.Helper()
	d := store.ContractedDevice{Serial: serial, Model: "Xerox VersaLink C405", ProductCode: "C405", ContractID: b.contract.ID, LocationID: &b.f.location.ID}
	if contact {
		d.ReadContactID = &b.contact.ID
	}
	d, err := b.s.PutDeviceUnderContract(b.ctx, d, store.BySystem("test"))
	if err != nil {
		b.t.Fatal(err)
	}
	b.devices[serial] = d
	return d
}

func (b *billingFixture) reads(serial string, reads []storetest.Meters) {
	b.t.Helper()
	if err := storetest.AddReads(b.ctx, sqlxOf(b.s), b.devices[serial].ID, "agent-"+strings.ToLower(serial), reads...); err != nil {
		b.t.Fatal(err)
	}
}

// at moves the clock.
func (b *billingFixture) at(t time.Time) { b.clock.Set(t) }

func (b *billingFixture) close() store.CloseReport {
	b.t.Helper()
	rep, err := b.s.ClosePeriods(b.ctx, b.clock.Now(), billingPortalURL)
	if err != nil {
		b.t.Fatalf("ClosePeriods at %s: %v", b.clock.Now(), err)
	}
	return rep
}

func (b *billingFixture) campaigns() store.CampaignReport {
	b.t.Helper()
	rep, err := b.s.RunCampaigns(b.ctx, b.clock.Now(), billingPortalURL)
	if err != nil {
		b.t.Fatalf("RunCampaigns at %s: %v", b.clock.Now(), err)
	}
	return rep
}

// unanswered runs the close of the period whose end is end (midnight after
// its last day) a week later at 09:00, then the campaign job as the
// reminders and the close fall due, nobody answering; it returns what the
// close did.
func (b *billingFixture) unanswered(end time.Time) store.CloseReport {
	b.t.Helper()
	invited := end.Add(7*billing.Day + 9*time.Hour)
	b.at(invited)
	rep := b.close()
	for _, after := range []time.Duration{7, 14, 21, 23} {
		b.at(invited.Add(after * billing.Day))
		b.campaigns()
	}
	return rep
}

// deliver sends the outbox to the test's SMTP server and returns what
// arrived.
func (b *billingFixture) deliver() []mailtest.Message {
	b.t.Helper()
	return b.smtp.Deliver(b.t, b.s.DB(), b.s.Dialect(), b.clock.Now)
}

func (b *billingFixture) current(serial string, periodEnd time.Time) store.BillingRead {
	b.t.Helper()
	r, err := b.s.CurrentBillingRead(b.ctx, b.devices[serial].ID, periodEnd)
	if err != nil {
		b.t.Fatalf("billing read of %s for %s: %v", serial, periodEnd.Format(time.DateOnly), err)
	}
	return r
}

// history is every billing read and every campaign of the device.
func (b *billingFixture) history(serial string) ([]store.BillingRead, []store.ReadCampaign) {
	b.t.Helper()
	rs, err := b.s.DeviceBillingReads(b.ctx, b.devices[serial].ID)
	if err != nil {
		b.t.Fatal(err)
	}
	cs, err := b.s.DeviceCampaigns(b.ctx, b.devices[serial].ID)
	if err != nil {
		b.t.Fatal(err)
	}
	return rs, cs
}

func (b *billingFixture) campaign(serial string) store.ReadCampaign {
	b.t.Helper()
	cs, err := b.s.DeviceCampaigns(b.ctx, b.devices[serial].ID)
	if err != nil || len(cs) == 0 {
		b.t.Fatalf("campaigns of %s: %v, %v", serial, cs, err)
	}
	return cs[len(cs)-1]
}

// entry is the device's latest campaign as the meter-read page shows it
// now (MeterReadToEnter).
func (b *billingFixture) entry(serial string) store.MeterReadEntry {
	b.t.Helper()
	e, err := b.s.MeterReadToEnter(b.ctx, b.f.account.ID, b.devices[serial].ID, b.clock.Now())
	if err != nil {
		b.t.Fatalf("meter read of %s: %v", serial, err)
	}
	return e
}

// entries are the account's devices on the meter-read page now
// (MeterReadsToEnter).
func (b *billingFixture) entries() []store.MeterReadEntry {
	b.t.Helper()
	es, err := b.s.MeterReadsToEnter(b.ctx, b.f.account.ID, b.clock.Now())
	if err != nil {
		b.t.Fatalf("meter reads of the account: %v", err)
	}
	return es
}

// enter types a read in for the device now, as the primary user
// (SubmitManualRead).
func (b *billingFixture) enter(serial string, black, colour int64, photo *store.StoredPhoto) (store.BillingRead, error) {
	return b.s.SubmitManualRead(b.ctx, store.ManualRead{AccountID: b.f.account.ID, DeviceID: b.devices[serial].ID,
		UserID: b.f.user.ID, Black: &black, Colour: &colour, Photo: photo}, b.clock.Now())
}

// snapshot is every billing row and e-mail, to compare before and after.
func (b *billingFixture) snapshot() string {
	b.t.Helper()
	var sb strings.Builder
	for _, serial := range slices.Sorted(maps.Keys(b.devices)) {
		d := b.devices[serial]
		rs, err := b.s.DeviceBillingReads(b.ctx, d.ID)
		if err != nil {
			b.t.Fatal(err)
		}
		cs, err := b.s.DeviceCampaigns(b.ctx, d.ID)
		if err != nil {
			b.t.Fatal(err)
		}
		sb.WriteString(serial + ": ")
		for _, r := range rs {
			sb.WriteString(show(r) + "; ")
		}
		for _, c := range cs {
			sb.WriteString(c.State + " " + itoa(int64(c.Reminders)) + "; ")
		}
	}
	sb.WriteString("mails " + itoa(int64(len(outbox(b.t, b.s)))))
	return sb.String()
}

func show(r store.BillingRead) string {
	v := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return itoa(*p)
	}
	sup := ""
	if r.SupersededAt != nil {
		sup = " superseded"
	}
	return r.PeriodEnd.Format(time.DateOnly) + " " + r.Source + " " + r.ReadAt.Format(time.RFC3339) + " b=" + v(r.Black) + " c=" + v(r.Colour) +
		" t=" + v(r.Total) + " [" + r.Method + "] [" + r.Flags.String() + "] " + r.Review + sup
}

func itoa(n int64) string { return strings.TrimSpace(strings.ReplaceAll(fmtInt(n), ",", "")) }

func fmtInt(n int64) string {
	if n < 0 {
		return "-" + fmtInt(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return fmtInt(n/10) + string(rune('0'+n%10))
}

func eq64(p *int64, v int64) bool { return p != nil && *p == v }

// TestBillingThroughPeriods moves the clock through two quarters of a
// contract: agent reads billed, campaigns with their invitation, three
// reminders and close, the estimate, the regularisation the next
// quarter, a device whose agent's read arrives late leaving its campaign,
// a counter reset, a jump, the tolerance window's edges, re-runs that
// change nothing, and the e-mails as a real SMTP server receives them.
func TestBillingThroughPeriods(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := newBillingFixture(t, be.url(t))
			q4, q1, q2 := date(2024, 12, 31), date(2025, 3, 31), date(2025, 6, 30)
			q4End, q1End, q2End := date(2025, 1, 1), date(2025, 4, 1), date(2025, 7, 1)

			// AGENT: read every day, all along.
			agent := usage{start: date(2024, 7, 1), black0: 10000, colour0: 4000, blackDay: 100, colourDay: 20}
			b.device("AGENT", false)
			b.reads("AGENT", agent.reads(date(2024, 7, 1), date(2025, 7, 10)))
			// GONE: its agent stops on 15 February and comes back on 26
			// June; its meter-read contact is the English user.
			gone := usage{start: date(2024, 7, 1), black0: 20000, colour0: 9000, blackDay: 80, colourDay: 40}
			b.device("GONE", true)
			b.reads("GONE", gone.reads(date(2024, 7, 1), date(2025, 2, 15)))
			// LATE: its agent is offline at Q1's end; its reads of the
			// window arrive after the campaign opened.
			late := usage{start: date(2024, 7, 1), black0: 500, colour0: 100, blackDay: 10, colourDay: 10}
			b.device("LATE", false)
			b.reads("LATE", late.reads(date(2024, 7, 1), date(2025, 3, 15)))
			// SWAP: a board swap on 10 February.
			swap := usage{start: date(2024, 7, 1), black0: 60000, colour0: 30000, blackDay: 50, colourDay: 50, swapAt: date(2025, 2, 10).Add(8 * time.Hour)}
			b.device("SWAP", false)
			b.reads("SWAP", swap.reads(date(2024, 7, 1), date(2025, 7, 10)))
			// JUMP: 30 pages a day, then 2,000 a day from February.
			b.device("JUMP", false)
			jumpy := usage{start: date(2024, 7, 1), black0: 1000, colour0: 1000, blackDay: 30, colourDay: 0}
			b.reads("JUMP", jumpy.reads(date(2024, 7, 1), date(2025, 1, 31)))
			heavy := usage{start: date(2025, 1, 31), black0: *jumpy.at(date(2025, 1, 31)).Black, colour0: 1000, blackDay: 2000}
			b.reads("JUMP", heavy.reads(date(2025, 2, 1), date(2025, 7, 10)))
			// EDGE_IN and EDGE_OUT: one read each near Q1's end, on the
			// window's first instant and a second before it.
			b.device("EDGE_IN", false)
			b.reads("EDGE_IN", agent.reads(date(2024, 12, 25), date(2025, 1, 3)))
			b.reads("EDGE_IN", []storetest.Meters{agent.at(q1End.Add(-10 * billing.Day))})
			b.device("EDGE_OUT", false)
			b.reads("EDGE_OUT", agent.reads(date(2024, 12, 25), date(2025, 1, 3)))
			b.reads("EDGE_OUT", []storetest.Meters{agent.at(q1End.Add(-10*billing.Day - time.Second))})

			// Q4 2024: within its window nothing closes; after it, every
			// device is read by its agent (08:00 on 1 January: the
			// nearest).
			b.at(q4End.Add(6 * billing.Day))
			if rep := b.close(); rep != (store.CloseReport{}) {
				t.Fatalf("close within the window: %+v, want nothing", rep)
			}
			b.at(q4End.Add(7*billing.Day + 9*time.Hour))
			if rep := b.close(); rep.AgentReads != 7 || rep.Campaigns != 0 {
				t.Fatalf("Q4 close: %+v, want 7 agent reads", rep)
			}
			for serial := range b.devices {
				r := b.current(serial, q4)
				if r.Source != billing.SourceAgent || !r.ReadAt.Equal(q4End.Add(8*time.Hour)) || r.Flags.String() != "" || r.Review != billing.ReviewNone {
					t.Errorf("%s Q4: %s, want the agent's read of 1 January 08:00", serial, show(r))
				}
			}
			if r := b.current("AGENT", q4); !eq64(r.Black, *agent.at(q4End.Add(8 * time.Hour)).Black) || r.Total != nil {
				t.Errorf("AGENT Q4 meters: %s, want black and colour only (the contract bills no total)", show(r))
			}

			// Q1 2025 closes on 8 April: AGENT, SWAP, JUMP, EDGE_IN by
			// their agents; GONE, LATE and EDGE_OUT get campaigns.
			b.at(q1End.Add(7*billing.Day + 9*time.Hour))
			invited := b.clock.Now()
			if rep := b.close(); rep.AgentReads != 4 || rep.Campaigns != 3 || rep.Invitations != 2 {
				t.Fatalf("Q1 close: %+v, want 4 agent reads, 3 campaigns, 2 invitations (one per contact)", rep)
			}
			if r := b.current("SWAP", q1); r.Flags.String() != billing.FlagCounterReset || r.Review != billing.ReviewNone ||
				!eq64(r.Black, *swap.at(q1End.Add(8 * time.Hour)).Black) {
				t.Errorf("SWAP Q1: %s, want the new board's meters flagged counter_reset", show(r))
			}
			if r := b.current("JUMP", q1); r.Flags.String() != billing.FlagJump || r.Review != billing.ReviewPending {
				t.Errorf("JUMP Q1: %s, want flagged jump, pending review", show(r))
			}
			if r := b.current("EDGE_IN", q1); !r.ReadAt.Equal(q1End.Add(-10 * billing.Day)) {
				t.Errorf("EDGE_IN Q1: %s, want the read on the window's first instant", show(r))
			}
			queue, err := b.s.BillingReviewQueue(b.ctx, 0)
			if err != nil || len(queue) != 1 || queue[0].Serial != "JUMP" || queue[0].CustomerNumber != "BILL-1" {
				t.Errorf("review queue = %+v, %v; want JUMP's read", queue, err)
			}

			// Re-running the close changes nothing.
			before := b.snapshot()
			if rep := b.close(); rep != (store.CloseReport{}) {
				t.Errorf("second close: %+v, want nothing", rep)
			}
			if after := b.snapshot(); after != before {
				t.Errorf("a second close changed things:\n%s\n%s", before, after)
			}

			// The invitations, as received: the English contact's for
			// GONE, the French primary user's for LATE and EDGE_OUT.
			mails := b.deliver()
			if len(mails) != 2 {
				t.Fatalf("invitations received: %d, want 2", len(mails))
			}
			en, fr := b.smtp.To(b.contact.Email), b.smtp.To(b.f.user.Email)
			if len(en) != 1 || en[0].Lang != "en" || !strings.Contains(en[0].Subject, "Meter read") ||
				!strings.Contains(en[0].Text, "GONE") || strings.Contains(en[0].Text, "LATE") {
				t.Errorf("English invitation = %+v", en)
			}
			if len(fr) != 1 || fr[0].Lang != "fr" || !strings.Contains(fr[0].Subject, "Relevé des compteurs") ||
				!strings.Contains(fr[0].Text, "LATE") || !strings.Contains(fr[0].Text, "EDGE_OUT") || !strings.Contains(fr[0].Text, "48 h après la 3e relance") {
				t.Errorf("French invitation = %+v", fr)
			}
			for _, m := range append(en, fr...) {
				if link := m.Link("/reads"); link != billingPortalURL+store.MeterReadsPath {
					t.Errorf("link of %q = %q, want %s", m.Subject, link, billingPortalURL+store.MeterReadsPath)
				}
				if !strings.Contains(m.HTML, `href="`+billingPortalURL+store.MeterReadsPath+`"`) {
					t.Errorf("HTML of %q lacks the link", m.Subject)
				}
			}
			// The meter-read page lists the three, by serial, each to
			// enter, with no closing time before the third reminder.
			toEnter := b.entries()
			if len(toEnter) != 3 || toEnter[0].Serial != "EDGE_OUT" || toEnter[1].Serial != "GONE" || toEnter[2].Serial != "LATE" {
				t.Fatalf("meter reads to enter = %+v", toEnter)
			}
			for _, e := range toEnter {
				if e.Status() != store.ReadToEnter || e.LastBilled == nil || !e.LastBilled.PeriodEnd.Equal(q4) ||
					e.Meters != (billing.Meters{Black: true, Colour: true}) || e.Location == nil || e.ClosesAt != nil || e.Reminders != 0 {
					t.Errorf("%s to enter: %+v", e.Serial, e)
				}
			}

			// LATE's reads of the window arrive: it leaves its campaign,
			// billed on its agent's read, and gets no reminder.
			b.reads("LATE", late.reads(date(2025, 3, 16), date(2025, 4, 3)))
			b.at(invited.Add(billing.Day))
			if rep := b.campaigns(); rep.Agent != 1 || rep.Reminders != 0 || rep.Closed != 0 {
				t.Errorf("campaigns after LATE's reads: %+v, want LATE left", rep)
			}
			if c := b.campaign("LATE"); c.State != store.CampaignAgent || c.EndedAt == nil {
				t.Errorf("LATE's campaign: %+v, want ended by its agent", c)
			}
			if r := b.current("LATE", q1); r.Source != billing.SourceAgent || !r.ReadAt.Equal(q1End.Add(8*time.Hour)) {
				t.Errorf("LATE Q1: %s, want its agent's read", show(r))
			}
			// It leaves the page too, and a read typed in for it is
			// refused with the reason.
			if e := b.entry("LATE"); e.Open() || e.Status() != store.ReadByAgent {
				t.Errorf("LATE's entry: open %v, status %s; want read by its agent", e.Open(), e.Status())
			}
			if es := b.entries(); len(es) != 2 || es[0].Serial != "EDGE_OUT" || es[1].Serial != "GONE" {
				t.Errorf("meter reads to enter after LATE's reads = %+v, want EDGE_OUT and GONE", es)
			}
			if _, err := b.enter("LATE", 4000, 4000, nil); !errors.Is(err, store.ErrReadByAgent) || domain.ErrorCode(err) != domain.ECONFLICT {
				t.Errorf("a read of LATE = %v, want refused: read by its agent", err)
			}
			// Another account's users do not find GONE.
			other := customer(t, b.s, "BILL-2")
			if _, err := b.s.MeterReadToEnter(b.ctx, other.account.ID, b.devices["GONE"].ID, b.clock.Now()); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("GONE's entry for another account = %v, want not found", err)
			}
			if _, err := b.s.SubmitManualRead(b.ctx, store.ManualRead{AccountID: other.account.ID, UserID: other.user.ID, DeviceID: b.devices["GONE"].ID,
				Black: p64(30000), Colour: p64(15000)}, b.clock.Now()); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("a read of GONE by another account = %v, want not found", err)
			}

			// Three reminders, a week apart; the third sets the close 48
			// hours on.
			for n := 1; n <= 3; n++ {
				b.at(invited.Add(time.Duration(7*n)*billing.Day - time.Minute))
				if rep := b.campaigns(); rep.Reminders != 0 {
					t.Errorf("a minute before reminder %d: %+v", n, rep)
				}
				b.at(invited.Add(time.Duration(7*n) * billing.Day))
				if rep := b.campaigns(); rep.Reminders != 2 {
					t.Errorf("reminder %d: %+v, want 2 e-mails (GONE's contact, EDGE_OUT's)", n, rep)
				}
				if rep := b.campaigns(); rep != (store.CampaignReport{}) {
					t.Errorf("reminder %d again: %+v, want nothing", n, rep)
				}
				mails := b.deliver()
				if len(mails) != 2 {
					t.Fatalf("reminder %d: %d e-mails received, want 2", n, len(mails))
				}
				for _, m := range mails {
					if m.Link("/reads") != billingPortalURL+"/reads" || strings.Contains(m.Text, "LATE") {
						t.Errorf("reminder %d to %s: link %q, text %q", n, m.To, m.Link("/reads"), m.Text)
					}
				}
				if en := b.smtp.To(b.contact.Email); !strings.Contains(en[len(en)-1].Subject, map[int]string{1: "Reminder 1", 2: "Reminder 2", 3: "Last reminder"}[n]) {
					t.Errorf("reminder %d subject: %q", n, en[len(en)-1].Subject)
				}
			}
			third := invited.Add(21 * billing.Day)
			c := b.campaign("GONE")
			if c.Reminders != 3 || c.ClosesAt == nil || !c.ClosesAt.Equal(third.Add(48*time.Hour)) {
				t.Fatalf("GONE's campaign after the third reminder: %+v", c)
			}
			if fr := b.smtp.To(b.f.user.Email); !strings.Contains(fr[len(fr)-1].Text, "La campagne sera clôturée le") {
				t.Errorf("last French reminder: %q", fr[len(fr)-1].Text)
			}

			// Open until the 48 hours are over; then refused, with the
			// reason, before the job has even run: the campaign is still
			// open in its row, and its closing time decides.
			b.at(third.Add(48*time.Hour - time.Second))
			if e := b.entry("GONE"); !e.Open() || e.Status() != store.ReadToEnter {
				t.Errorf("GONE a second before the close: open %v, status %s; want to enter", e.Open(), e.Status())
			}
			b.at(third.Add(48 * time.Hour))
			if e := b.entry("GONE"); e.Open() || e.Status() != store.ReadClosed {
				t.Errorf("GONE at the close: open %v, status %s; want closed", e.Open(), e.Status())
			}
			if _, err := b.enter("GONE", 40000, 20000, nil); !errors.Is(err, store.ErrReadCampaignClosed) || domain.ErrorCode(err) != domain.ECONFLICT {
				t.Errorf("a read of GONE at the close = %v, want refused: closed", err)
			}
			if c := b.campaign("GONE"); c.State != store.CampaignOpen {
				t.Errorf("GONE's campaign at the close, before the job: %+v, want still open", c)
			}
			for _, e := range b.entries() {
				if e.Open() || e.Status() != store.ReadClosed {
					t.Errorf("%s at the close: open %v, status %s; want closed", e.Serial, e.Open(), e.Status())
				}
			}
			if rep := b.campaigns(); rep.Closed != 2 || rep.Reminders != 0 {
				t.Errorf("close of the campaigns: %+v, want 2 closed", rep)
			}
			if mails := b.deliver(); len(mails) != 0 {
				t.Errorf("e-mails after the close: %d", len(mails))
			}
			// GONE's estimate: its last read (15 February 08:00) plus its
			// average (80 and 40 a day over 229 days of reads) for the 44
			// days and 16 hours to the end.
			est := b.current("GONE", q1)
			last := gone.at(date(2025, 2, 15).Add(8 * time.Hour))
			days := 44 + 16.0/24
			wantBlack, wantColour := *last.Black+int64(math.Round(80*days)), *last.Colour+int64(math.Round(40*days))
			if est.Source != billing.SourceEstimated || est.Method != "history:229d" || !est.ReadAt.Equal(q1End) ||
				!eq64(est.Black, wantBlack) || !eq64(est.Colour, wantColour) {
				t.Errorf("GONE Q1 estimate: %s, want b=%d c=%d history:229d", show(est), wantBlack, wantColour)
			}
			if c := b.campaign("GONE"); c.State != store.CampaignClosed || c.EndedAt == nil {
				t.Errorf("GONE's campaign: %+v, want closed", c)
			}
			// EDGE_OUT has 9 days of history and a read since: the
			// contract's volume less what its devices with history printed;
			// JUMP alone prints 2,000 pages a day, more than the 3,000 a
			// month the contract expects, so none is left: EDGE_OUT stays
			// at its last read.
			edge := agent.at(q1End.Add(-10*billing.Day - time.Second))
			if r := b.current("EDGE_OUT", q1); r.Source != billing.SourceEstimated || r.Method != billing.MethodContractRemainder ||
				!eq64(r.Black, *edge.Black) || !eq64(r.Colour, *edge.Colour) {
				t.Errorf("EDGE_OUT Q1: %s, want its last read, estimated from the contract's remainder", show(r))
			}
			before = b.snapshot()
			if rep := b.campaigns(); rep != (store.CampaignReport{}) {
				t.Errorf("campaigns again: %+v", rep)
			}
			if after := b.snapshot(); after != before {
				t.Errorf("a second run changed things:\n%s\n%s", before, after)
			}

			// Q2: GONE's agent is back (the customer automated the
			// reads): its Q2 read regularises Q1, whose estimate gives way
			// to the usage spread over both quarters.
			b.reads("GONE", gone.reads(date(2025, 6, 26), date(2025, 7, 10)))
			b.reads("LATE", late.reads(date(2025, 4, 4), date(2025, 7, 10)))
			b.at(q2End.Add(7*billing.Day + 9*time.Hour))
			if rep := b.close(); rep.AgentReads != 5 || rep.Campaigns != 2 {
				t.Errorf("Q2 close: %+v, want 5 agent reads and 2 campaigns (EDGE_IN, EDGE_OUT)", rep)
			}
			real := b.current("GONE", q2)
			if real.Source != billing.SourceAgent || real.Flags.String() != billing.FlagRegularises || real.Review != billing.ReviewNone {
				t.Errorf("GONE Q2: %s, want the agent's read flagged regularises", show(real))
			}
			spread := b.current("GONE", q1)
			truth := gone.at(q1End)
			if spread.Source != billing.SourceEstimated || spread.Method != billing.MethodSpread ||
				!near(spread.Black, *truth.Black, 1) || !near(spread.Colour, *truth.Colour, 1) {
				t.Errorf("GONE Q1 after regularisation: %s, want about b=%d c=%d (the truth: usage was steady)", show(spread), *truth.Black, *truth.Colour)
			}
			rows, err := b.s.DeviceBillingReads(b.ctx, b.devices["GONE"].ID)
			if err != nil || len(rows) != 4 || rows[1].SupersededAt == nil || rows[1].Method != "history:229d" {
				t.Errorf("GONE's rows: %v, want Q4, the superseded estimate, the spread, Q2", rows)
			}
			q4Read := b.current("GONE", q4)
			if *spread.Black < *q4Read.Black || *real.Black < *spread.Black || *spread.Colour < *q4Read.Colour || *real.Colour < *spread.Colour {
				t.Errorf("regularisation went negative: Q4 %s, Q1 %s, Q2 %s", show(q4Read), show(spread), show(real))
			}
			if r := b.current("SWAP", q2); r.Flags.String() != "" {
				t.Errorf("SWAP Q2: %s, want no flag (the reset was in Q1)", show(r))
			}

			// The export of Q1.
			export, err := b.s.BillingReadsOfPeriod(b.ctx, q1)
			if err != nil || len(export) != 7 {
				t.Fatalf("export of Q1: %d rows, %v", len(export), err)
			}
			for _, e := range export {
				if e.CustomerNumber != "BILL-1" || e.ContractNumber != "CB-1" || !e.PeriodEnd.Equal(q1) || !e.PeriodStart.Equal(date(2025, 1, 1)) {
					t.Errorf("export row %+v", e)
				}
			}
		})
	}
}

func near(p *int64, want, tolerance int64) bool {
	return p != nil && *p >= want-tolerance && *p <= want+tolerance
}

// TestClosePeriodsTwoAtOnce runs two closers at the same time on two
// connection pools: each device ends with one billing read or one
// campaign, each campaign invited once.
func TestClosePeriodsTwoAtOnce(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			url := be.url(t)
			b := newBillingFixture(t, url)
			other := open(t, url)
			other.SetClock(b.clock.Now)
			u := usage{start: date(2024, 7, 1), black0: 100, colour0: 100, blackDay: 10, colourDay: 10}
			const n = 12
			for i := range n {
				serial := "TWICE" + itoa(int64(i))
				b.device(serial, i%3 == 0)
				if i%2 == 0 {
					b.reads(serial, u.reads(date(2024, 12, 20), date(2025, 1, 5)))
				}
			}
			b.at(date(2025, 1, 8))
			var wg sync.WaitGroup
			reps := make([]store.CloseReport, 2)
			errs := make([]error, 2)
			for i, s := range []*store.Store{b.s, other} {
				wg.Go(func() { reps[i], errs[i] = s.ClosePeriods(b.ctx, b.clock.Now(), billingPortalURL) })
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if agents, campaigns := reps[0].AgentReads+reps[1].AgentReads, reps[0].Campaigns+reps[1].Campaigns; agents != n/2 || campaigns != n/2 {
				t.Errorf("two closers: %+v, want %d agent reads and %d campaigns in all", reps, n/2, n/2)
			}
			for serial := range b.devices {
				rs, cs := b.history(serial)
				if len(rs)+len(cs) != 1 {
					t.Errorf("%s: %d billing reads and %d campaigns, want one of them", serial, len(rs), len(cs))
				}
				for _, c := range cs {
					if c.InvitedAt == nil {
						t.Errorf("%s: campaign not invited", serial)
					}
				}
			}
			// Every campaign is in exactly one e-mail.
			listed := 0
			for _, m := range b.deliver() {
				listed += strings.Count(m.Text, "TWICE")
			}
			if listed != n/2 {
				t.Errorf("devices listed in the invitations: %d, want %d", listed, n/2)
			}

			// The jobs stop for two quarters; two closers then catch up at
			// once: each device gets one estimate for Q1 and one campaign
			// for Q2.
			b.at(date(2025, 7, 9))
			for i, s := range []*store.Store{b.s, other} {
				wg.Go(func() { reps[i], errs[i] = s.ClosePeriods(b.ctx, b.clock.Now(), billingPortalURL) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			if estimates, campaigns := reps[0].Estimates+reps[1].Estimates, reps[0].Campaigns+reps[1].Campaigns; estimates != n || campaigns != n {
				t.Errorf("two closers catching up: %+v, want %d estimates and %d campaigns in all", reps, n, n)
			}
			for serial := range b.devices {
				rs, cs := b.history(serial)
				q1 := 0
				for _, r := range rs {
					if r.PeriodEnd.Equal(date(2025, 3, 31)) {
						q1++
					}
				}
				if q1 != 1 || len(cs) == 0 || !cs[len(cs)-1].PeriodEnd.Equal(date(2025, 6, 30)) {
					t.Errorf("%s after the catch-up: %d reads for Q1, campaigns %+v; want one estimate, Q2's campaign", serial, q1, cs)
				}
			}
		})
	}
}

// TestManualReadsRegularise: reads typed in on the portal
// (SubmitManualRead) in the campaigns the jobs open: one on time, a lower
// one with its photo flagged for review, one after the close refused, and
// one after an estimate regularising it.
func TestManualReadsRegularise(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := newBillingFixture(t, be.url(t))
			q4, q1 := date(2024, 12, 31), date(2025, 3, 31)
			for _, serial := range []string{"MANUAL", "LOWER", "LATE"} {
				b.device(serial, false)
			}
			// Q4: every device is read by hand on 12 January.
			b.at(date(2025, 1, 8))
			if rep := b.close(); rep.Campaigns != 3 {
				t.Fatalf("Q4 close: %+v", rep)
			}
			b.at(date(2025, 1, 12).Add(10 * time.Hour))
			for _, serial := range []string{"MANUAL", "LOWER", "LATE"} {
				if r, err := b.enter(serial, 10000, 2000, nil); err != nil || r.Source != billing.SourceManual {
					t.Fatalf("%s Q4 read: %+v, %v", serial, r, err)
				}
			}
			// The job leaves a campaign with its read alone: no reminder.
			b.at(date(2025, 1, 15).Add(9 * time.Hour))
			if rep := b.campaigns(); rep != (store.CampaignReport{}) {
				t.Errorf("campaigns with their reads: %+v, want nothing", rep)
			}

			// Q1: MANUAL reads on time, LOWER reads lower with a photo,
			// LATE misses the close.
			b.at(date(2025, 4, 8))
			if rep := b.close(); rep.Campaigns != 3 {
				t.Fatalf("Q1 close: %+v", rep)
			}
			b.at(date(2025, 4, 10))
			if r, err := b.enter("LOWER", 9000, 2600, &store.StoredPhoto{Name: "lower.jpg"}); err != nil ||
				r.Flags.String() != "lower_than_previous photo" || r.Review != billing.ReviewPending {
				t.Errorf("LOWER Q1: %+v, %v; want flagged lower and photo, pending", r, err)
			}
			if r, err := b.enter("MANUAL", 19000, 3800, nil); err != nil || len(r.Flags) != 0 || r.Review != billing.ReviewNone {
				t.Errorf("MANUAL Q1: %+v, %v", r, err)
			}
			// Its read in, the campaign takes a correction until it would
			// have closed (invited 8 April: 23 days on).
			if e := b.entry("MANUAL"); !e.Open() || e.Status() != store.ReadEntered {
				t.Errorf("MANUAL with its read in: open %v, status %s; want entered, open for corrections", e.Open(), e.Status())
			}
			for _, day := range []int{15, 22, 29} {
				b.at(date(2025, 4, day))
				if rep := b.campaigns(); rep.Reminders != 1 {
					t.Errorf("reminders on %d April: %+v, want LATE's", day, rep)
				}
			}
			b.at(date(2025, 5, 1))
			if rep := b.campaigns(); rep.Closed != 1 {
				t.Fatalf("Q1 campaigns: %+v, want LATE closed", rep)
			}
			if _, err := b.enter("LATE", 15000, 3000, nil); !errors.Is(err, store.ErrReadCampaignClosed) {
				t.Errorf("LATE after the close: %v, want closed", err)
			}
			if e := b.entry("LATE"); e.Open() || e.Status() != store.ReadClosed {
				t.Errorf("LATE after the close: open %v, status %s; want closed", e.Open(), e.Status())
			}
			if c := b.campaign("MANUAL"); c.State != store.CampaignRead || c.ClosesAt == nil || !c.ClosesAt.Equal(date(2025, 5, 1)) {
				t.Errorf("MANUAL's campaign: %+v, want read, closing on 1 May", c)
			}
			if e := b.entry("MANUAL"); e.Open() || e.Status() != store.ReadDone {
				t.Errorf("MANUAL after the close: open %v, status %s; want done with its read", e.Open(), e.Status())
			}
			if _, err := b.enter("MANUAL", 19100, 3800, nil); !errors.Is(err, store.ErrReadCorrectionClosed) {
				t.Errorf("a correction after the close: %v, want closed to corrections", err)
			}
			est := b.current("LATE", q1)
			if est.Source != billing.SourceEstimated || est.Method != billing.MethodContractVolume {
				t.Errorf("LATE Q1: %s, want estimated from the contract's volume", show(est))
			}

			// Q2: LATE's read typed in regularises its Q1 estimate.
			b.at(date(2025, 7, 8))
			b.close()
			b.at(date(2025, 7, 9).Add(10 * time.Hour))
			real, err := b.enter("LATE", 28000, 5600, nil)
			if err != nil || real.Flags.String() != billing.FlagRegularises {
				t.Fatalf("LATE Q2: %+v, %v; want regularises", real, err)
			}
			spread := b.current("LATE", q1)
			q4Read := b.current("LATE", q4)
			// 18,000 black and 3,600 colour pages from 12 January 10:00 to
			// 9 July 10:00 (178 days), 78 days and 14 hours of them in Q1.
			share := (78 + 14.0/24) / 178
			wantBlack, wantColour := *q4Read.Black+int64(18000*share), *q4Read.Colour+int64(3600*share)
			if spread.Method != billing.MethodSpread || !near(spread.Black, wantBlack, 1) || !near(spread.Colour, wantColour, 1) {
				t.Errorf("LATE Q1 after regularisation: %s, want b=%d c=%d", show(spread), wantBlack, wantColour)
			}
			// Corrected before the close: spread again from the new value.
			b.at(date(2025, 7, 10).Add(10 * time.Hour))
			if _, err := b.enter("LATE", 28178, 5600, nil); err != nil {
				t.Fatal(err)
			}
			respread := b.current("LATE", q1)
			if respread.ID == spread.ID || !near(respread.Black, *q4Read.Black+int64(18178*share*178/179), 1) {
				t.Errorf("LATE Q1 after the correction: %s", show(respread))
			}
		})
	}
}
