package store_test

import (
	"math"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/portal/internal/store"
)

// TestEstimateFromContractRemainder: a contract of three devices, two read
// every day by their agents and one read by hand once (its installation
// read) and never again. Each quarter the unread one is estimated from
// what the contract expects less what the two others printed, anchored on
// its one real read: its estimates never become history, however many
// quarters they cover.
func TestEstimateFromContractRemainder(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := newBillingFixture(t, be.url(t))
			// The contract expects 3,000 pages a month (98.63 a day); the
			// agents' devices print 50 and 20 a day.
			big := usage{start: date(2024, 7, 1), black0: 10000, colour0: 4000, blackDay: 40, colourDay: 10}
			small := usage{start: date(2024, 7, 1), black0: 3000, colour0: 1000, blackDay: 20, colourDay: 0}
			b.device("BIG", false)
			b.reads("BIG", big.reads(date(2024, 7, 1), date(2025, 10, 10)))
			b.device("SMALL", false)
			b.reads("SMALL", small.reads(date(2024, 7, 1), date(2025, 10, 10)))
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
			for _, end := range []time.Time{date(2025, 4, 1), date(2025, 7, 1), date(2025, 10, 1)} {
				invited := end.Add(7*billing.Day + 9*time.Hour)
				b.at(invited)
				if rep := b.close(); rep.AgentReads != 2 || rep.Campaigns != 1 {
					t.Fatalf("close of the period ending %s: %+v", end.Format(time.DateOnly), rep)
				}
				for _, after := range []time.Duration{7, 14, 21, 23} {
					b.at(invited.Add(after * billing.Day))
					b.campaigns()
				}
				est := b.current("UNREAD", end.Add(-billing.Day))
				// One real read, so no usage to split by: a quarter
				// colour (billing.Config.DefaultColourShare).
				pages := perDay * float64(end.Sub(installed)) / float64(billing.Day)
				wantBlack, wantColour := black+int64(math.Round(pages*0.75)), colour+int64(math.Round(pages*0.25))
				if est.Source != billing.SourceEstimated || est.Method != billing.MethodContractRemainder ||
					!near(est.Black, wantBlack, 2) || !near(est.Colour, wantColour, 2) {
					t.Errorf("UNREAD estimate for %s: %s, want b=%d c=%d %s (anchored on the read of 12 January)",
						end.Format(time.DateOnly), show(est), wantBlack, wantColour, billing.MethodContractRemainder)
				}
			}
		})
	}
}
