package store_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// TestEstimateFromContractRemainder: a contract of three devices, two read
// every day by their agents and one read by hand once (its installation
// read) and never again. Each quarter the unread one is estimated from
// what the contract expects less what the two others printed, anchored on
// its one real read: its estimates never become history, however many
// quarters they cover. The third estimate in a row is flagged
// repeated_estimate and waits for the back office; a read typed in again
// starts the count afresh.
func TestEstimateFromContractRemainder(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := newBillingFixture(t, be.url(t))
			// The contract expects 3,000 pages a month (98.63 a day); the
			// agents' devices print 50 and 20 a day.
			big := usage{start: date(2024, 7, 1), black0: 10000, colour0: 4000, blackDay: 40, colourDay: 10}
			small := usage{start: date(2024, 7, 1), black0: 3000, colour0: 1000, blackDay: 20, colourDay: 0}
			b.device("BIG", false)
			b.reads("BIG", big.reads(date(2024, 7, 1), date(2026, 4, 10)))
			b.device("SMALL", false)
			b.reads("SMALL", small.reads(date(2024, 7, 1), date(2026, 4, 10)))
			b.device("UNREAD", false)

			// Q4 2024: a campaign for UNREAD, whose read is typed in on
			// 12 January.
			b.at(date(2025, 1, 8).Add(9 * time.Hour))
			if rep := b.close(); rep.AgentReads != 2 || rep.Campaigns != 1 {
				t.Fatalf("Q4 close: %+v, want 2 agent reads and UNREAD's campaign", rep)
			}
			installed := date(2025, 1, 12).Add(10 * time.Hour)
			b.at(installed)
			black, colour := int64(50000), int64(8000)
			if _, err := b.s.SubmitManualRead(b.ctx, store.ManualRead{AccountID: b.f.account.ID, DeviceID: b.devices["UNREAD"].ID,
				UserID: b.f.user.ID, Black: &black, Colour: &colour}, installed); err != nil {
				t.Fatal(err)
			}

			// Then nobody reads it: each quarter its campaign closes with
			// an estimate.
			perDay := 3000.0*12/365 - 50 - 20
			// unanswered runs the period's close and its campaign through
			// to the estimate, which it returns.
			unanswered := func(end time.Time) store.BillingRead {
				t.Helper()
				if rep := b.unanswered(end); rep.AgentReads != 2 || rep.Campaigns != 1 {
					t.Fatalf("close of the period ending %s: %+v", end.Format(time.DateOnly), rep)
				}
				return b.current("UNREAD", end.Add(-billing.Day))
			}
			for i, end := range []time.Time{date(2025, 4, 1), date(2025, 7, 1), date(2025, 10, 1)} {
				est := unanswered(end)
				// One real read, so no usage to split by: a quarter
				// colour (billing.Config.DefaultColourShare).
				pages := perDay * float64(end.Sub(installed)) / float64(billing.Day)
				wantBlack, wantColour := black+int64(math.Round(pages*0.75)), colour+int64(math.Round(pages*0.25))
				if est.Source != billing.SourceEstimated || est.Method != billing.MethodContractRemainder ||
					!near(est.Black, wantBlack, 2) || !near(est.Colour, wantColour, 2) {
					t.Errorf("UNREAD estimate for %s: %s, want b=%d c=%d %s (anchored on the read of 12 January)",
						end.Format(time.DateOnly), show(est), wantBlack, wantColour, billing.MethodContractRemainder)
				}
				// The third in a row (billing.Config.EstimatesInARow) waits.
				third := i == 2
				if est.Flags.Has(billing.FlagRepeatedEstimate) != third || (est.Review == billing.ReviewPending) != third {
					t.Errorf("UNREAD estimate %d in a row: flags %q, review %s; want repeated_estimate and pending only for the third", i+1, est.Flags, est.Review)
				}
			}
			queue, err := b.s.BillingReviewQueue(b.ctx, 0)
			if err != nil || len(queue) != 1 || queue[0].DeviceID != b.devices["UNREAD"].ID || !queue[0].PeriodEnd.Equal(date(2025, 9, 30)) {
				t.Fatalf("review queue: %+v, %v; want UNREAD's third estimate", queue, err)
			}
			if err := b.s.ReviewBillingRead(b.ctx, queue[0].ID, true, store.BySystem("test")); err != nil {
				t.Fatal(err)
			}

			// The customer reads Q4 by hand: the next estimate is the
			// first of a new run.
			b.at(date(2026, 1, 8).Add(9 * time.Hour))
			b.close()
			b.at(date(2026, 1, 12).Add(10 * time.Hour))
			black, colour = 80000, 12000
			if _, err := b.s.SubmitManualRead(b.ctx, store.ManualRead{AccountID: b.f.account.ID, DeviceID: b.devices["UNREAD"].ID,
				UserID: b.f.user.ID, Black: &black, Colour: &colour}, b.clock.Now()); err != nil {
				t.Fatal(err)
			}
			if est := unanswered(date(2026, 4, 1)); est.Source != billing.SourceEstimated || len(est.Flags) != 0 || est.Review != billing.ReviewNone {
				t.Errorf("UNREAD's estimate after a read: %s, review %s; want no flag, not held", show(est), est.Review)
			}
		})
	}
}

// TestClosePeriodsCatchUp: the jobs do not run for two whole quarters;
// the first close after that bills both, oldest first: agent reads in
// their windows, an estimate for the older quarter nobody read (its
// campaign would ask today for the meters of a quarter long over), a
// campaign for the latest. A re-run changes nothing. Then the campaign
// job alone is down for a quarter: when it runs, the older of a device's
// two open campaigns, which can no longer take a read, closes with an
// estimate and the latest goes on.
func TestClosePeriodsCatchUp(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := newBillingFixture(t, be.url(t))
			q1, q2, q3 := date(2025, 3, 31), date(2025, 6, 30), date(2025, 9, 30)
			// AGENT: read every day. BACK: its agent is offline from 10
			// March to 20 April, around Q1's end. HAND: no agent; read by
			// hand once, for Q4 2024.
			agent := usage{start: date(2024, 7, 1), black0: 10000, colour0: 4000, blackDay: 40, colourDay: 10}
			back := usage{start: date(2024, 7, 1), black0: 20000, colour0: 9000, blackDay: 30, colourDay: 5}
			b.device("AGENT", false)
			b.reads("AGENT", agent.reads(date(2024, 7, 1), date(2025, 10, 10)))
			b.device("BACK", false)
			b.reads("BACK", back.reads(date(2024, 7, 1), date(2025, 3, 10)))
			b.reads("BACK", back.reads(date(2025, 4, 20), date(2025, 10, 10)))
			b.device("HAND", false)

			b.at(date(2025, 1, 8).Add(9 * time.Hour))
			if rep := b.close(); rep.AgentReads != 2 || rep.Campaigns != 1 {
				t.Fatalf("Q4 close: %+v", rep)
			}
			b.at(date(2025, 1, 12).Add(10 * time.Hour))
			black, colour := int64(30000), int64(6000)
			if _, err := b.s.SubmitManualRead(b.ctx, store.ManualRead{AccountID: b.f.account.ID, DeviceID: b.devices["HAND"].ID,
				UserID: b.f.user.ID, Black: &black, Colour: &colour}, b.clock.Now()); err != nil {
				t.Fatal(err)
			}
			b.deliver()

			// No job runs until 9 July: Q1 and Q2 are both over.
			b.at(date(2025, 7, 9).Add(9 * time.Hour))
			if rep := b.close(); rep != (store.CloseReport{AgentReads: 3, Estimates: 2, Campaigns: 1, Invitations: 1}) {
				t.Errorf("catch-up close: %+v, want 3 agent reads (AGENT Q1 and Q2, BACK Q2), 2 estimates (BACK and HAND Q1), HAND's Q2 campaign", rep)
			}
			for _, end := range []time.Time{q1, q2} {
				if r := b.current("AGENT", end); r.Source != billing.SourceAgent || !r.ReadAt.Equal(end.Add(billing.Day+8*time.Hour)) {
					t.Errorf("AGENT %s: %s, want its read of the next morning", end.Format(time.DateOnly), show(r))
				}
			}
			// BACK's Q1 was estimated first, between its reads on either
			// side of the end; its Q2 agent read then regularised it.
			rows, err := b.s.DeviceBillingReads(b.ctx, b.devices["BACK"].ID)
			if err != nil {
				t.Fatal(err)
			}
			var q1Rows []store.BillingRead
			for _, r := range rows {
				if r.PeriodEnd.Equal(q1) {
					q1Rows = append(q1Rows, r)
				}
			}
			truth := back.at(q1.Add(billing.Day))
			if len(q1Rows) != 2 || q1Rows[0].Method != billing.MethodInterpolated || !near(q1Rows[0].Black, *truth.Black, 1) ||
				q1Rows[1].Method != billing.MethodSpread || q1Rows[1].SupersededAt != nil {
				t.Errorf("BACK Q1 rows: %v, want the interpolated estimate (b≈%d), then its spread", q1Rows, *truth.Black)
			}
			if r := b.current("BACK", q2); r.Source != billing.SourceAgent || r.Flags.String() != billing.FlagRegularises {
				t.Errorf("BACK Q2: %s, want its agent's read, regularising Q1", show(r))
			}
			if r := b.current("HAND", q1); r.Source != billing.SourceEstimated || r.Method != billing.MethodContractRemainder {
				t.Errorf("HAND Q1: %s, want estimated at once from the contract's remainder", show(r))
			}
			if c := b.campaign("HAND"); !c.PeriodEnd.Equal(q2) || c.State != store.CampaignOpen || c.InvitedAt == nil {
				t.Errorf("HAND's campaign: %+v, want Q2's, open and invited", c)
			}
			if cs, err := b.s.DeviceCampaigns(b.ctx, b.devices["HAND"].ID); err != nil || len(cs) != 2 {
				t.Errorf("HAND's campaigns: %+v, %v; want Q4's and Q2's (none for Q1)", cs, err)
			}
			if mails := b.deliver(); len(mails) != 1 || !strings.Contains(mails[0].Text, "HAND") {
				t.Errorf("invitations after the catch-up: %+v, want HAND's for Q2", mails)
			}
			if rep := b.campaigns(); rep != (store.CampaignReport{}) {
				t.Errorf("campaigns after the catch-up: %+v, want nothing (HAND's is new)", rep)
			}

			// Running the jobs again changes nothing.
			before := b.snapshot()
			if rep := b.close(); rep != (store.CloseReport{}) {
				t.Errorf("second close: %+v, want nothing", rep)
			}
			if rep := b.campaigns(); rep != (store.CampaignReport{}) {
				t.Errorf("second campaign run: %+v, want nothing", rep)
			}
			if after := b.snapshot(); after != before {
				t.Errorf("a re-run changed things:\n%s\n%s", before, after)
			}

			// The campaign job is down until Q3 closes: HAND then has two
			// open campaigns. The older closes with an estimate; the latest
			// goes on.
			b.at(date(2025, 10, 8).Add(9 * time.Hour))
			if rep := b.close(); rep.AgentReads != 2 || rep.Campaigns != 1 || rep.Estimates != 0 {
				t.Errorf("Q3 close: %+v, want 2 agent reads and HAND's campaign", rep)
			}
			if rep := b.campaigns(); rep != (store.CampaignReport{Closed: 1}) {
				t.Errorf("campaigns with two open for HAND: %+v, want Q2's closed", rep)
			}
			cs, err := b.s.DeviceCampaigns(b.ctx, b.devices["HAND"].ID)
			if err != nil || len(cs) != 3 || cs[1].State != store.CampaignClosed || cs[2].State != store.CampaignOpen || !cs[2].PeriodEnd.Equal(q3) {
				t.Errorf("HAND's campaigns: %+v, %v; want Q2's closed, Q3's open", cs, err)
			}
			if r := b.current("HAND", q2); r.Source != billing.SourceEstimated || r.Method != billing.MethodContractRemainder {
				t.Errorf("HAND Q2: %s, want estimated", show(r))
			}
			before = b.snapshot()
			if rep := b.campaigns(); rep != (store.CampaignReport{}) {
				t.Errorf("campaigns again: %+v, want nothing", rep)
			}
			if after := b.snapshot(); after != before {
				t.Errorf("a re-run changed things:\n%s\n%s", before, after)
			}
		})
	}
}

// TestOpeningRead: a device put under contract with its opening read (the
// installation meters). Nobody reads Q4 2024: its estimate starts from the
// opening read. The customer reads Q1: that read regularises Q4 from the
// opening read. Q2 is not read: with the opening read and Q1's, the device
// has 193 days of history, and Q2 is estimated from its own usage, not the
// contract's. A first read lower than the opening read needs a photo; an
// opening read in the future or without meters is refused.
func TestOpeningRead(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := newBillingFixture(t, be.url(t))
			opened := date(2024, 10, 1).Add(9 * time.Hour)
			truth := usage{start: opened, black0: 40000, colour0: 9000, blackDay: 50, colourDay: 10}
			put := func(serial string, o *store.OpeningRead) (store.ContractedDevice, error) {
				d, err := b.s.PutDeviceUnderContract(b.ctx, store.ContractedDevice{Serial: serial, Model: "Xerox VersaLink C405", ContractID: b.contract.ID,
					Opening: o}, store.BySystem("test"))
				if err == nil {
					b.devices[serial] = d
				}
				return d, err
			}
			b.at(opened)
			at := truth.at(opened)
			if _, err := put("OPEN", &store.OpeningRead{At: opened, Black: at.Black, Colour: at.Colour}); err != nil {
				t.Fatal(err)
			}
			fifty := int64(50000)
			if _, err := put("LOW", &store.OpeningRead{At: opened, Black: &fifty}); err != nil {
				t.Fatal(err)
			}
			if _, err := put("FUTURE", &store.OpeningRead{At: opened.Add(time.Hour), Black: &fifty}); domain.ErrorCode(err) != domain.EINVALID {
				t.Errorf("an opening read in the future: %v, want EINVALID", err)
			}
			if _, err := put("EMPTY", &store.OpeningRead{At: opened}); domain.ErrorCode(err) != domain.EINVALID {
				t.Errorf("an opening read without meters: %v, want EINVALID", err)
			}

			q4, q1, q2 := date(2024, 12, 31), date(2025, 3, 31), date(2025, 6, 30)
			// The meter-read page shows the opening read as the last one.
			b.at(q4.Add(8*billing.Day + 9*time.Hour))
			b.close()
			if l := b.entry("OPEN").LastBilled; l == nil || !l.ReadAt.Equal(opened) || !eq64(l.Black, *at.Black) || !eq64(l.Colour, *at.Colour) || l.Estimated() {
				t.Errorf("OPEN's last read on the page: %+v, want the opening read", l)
			}
			b.unanswered(q4.Add(billing.Day))
			est := b.current("OPEN", q4)
			if est.Source != billing.SourceEstimated || est.Method != billing.MethodContractVolume || est.Black == nil || *est.Black <= *at.Black {
				t.Errorf("OPEN Q4: %s, want estimated from the contract's volume on the opening read", show(est))
			}

			// Q1, read by hand. LOW's read below its opening read needs a
			// photo.
			b.at(q1.Add(8*billing.Day + 9*time.Hour))
			b.close()
			b.at(date(2025, 4, 12).Add(10 * time.Hour))
			if _, err := b.enter("LOW", 49000, 0, nil); !errors.Is(err, billing.ErrPhotoRequired) {
				t.Errorf("LOW read below its opening read without a photo: %v, want %v", err, billing.ErrPhotoRequired)
			}
			read := truth.at(b.clock.Now())
			if r, err := b.enter("OPEN", *read.Black, *read.Colour, nil); err != nil || r.Flags.String() != billing.FlagRegularises {
				t.Fatalf("OPEN Q1 read: %s, %v; want it to regularise Q4", show(r), err)
			}
			end4 := truth.at(q4.Add(billing.Day))
			if r := b.current("OPEN", q4); r.Method != billing.MethodSpread || !near(r.Black, *end4.Black, 2) || !near(r.Colour, *end4.Colour, 2) {
				t.Errorf("OPEN Q4 after Q1's read: %s, want spread from the opening read: b≈%d c≈%d", show(r), *end4.Black, *end4.Colour)
			}

			// Q2, not read: 193 days of the device's own history.
			b.unanswered(q2.Add(billing.Day))
			end2 := truth.at(q2.Add(billing.Day))
			if r := b.current("OPEN", q2); billing.MethodFamily(r.Method) != billing.MethodFamilyHistory || !near(r.Black, *end2.Black, 2) || !near(r.Colour, *end2.Colour, 2) {
				t.Errorf("OPEN Q2: %s, want estimated from its history (opening read to Q1's): b≈%d c≈%d", show(r), *end2.Black, *end2.Colour)
			}
		})
	}
}
