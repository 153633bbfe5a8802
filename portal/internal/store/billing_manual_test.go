package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// readsBench is an account with a colour device whose first-quarter
// campaign is open, its last invoiced read a quarter ago, and another
// account with a campaign of its own.
type readsBench struct {
	s              *store.Store
	now            time.Time
	f, other       fixture
	device, mono   store.ContractedDevice
	theirs         store.ContractedDevice
	campaign       int64
	monoCampaign   int64
	lastBilledID   int64
	q1Start, q1End time.Time
}

func newReadsBench(t *testing.T, url string) *readsBench {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 4, 3, 9, 0, 0, 0, time.UTC)
	// The mono device's agent said it has no colour counter (it reads
	// nothing in the period's window, hence its campaign).
	storetest.Seed(t, url, storetest.Device{Serial: "MONO-1", Model: "Mono 1", Reads: []storetest.Read{{
		At: now.AddDate(0, -2, 0), Counters: []wire.Counter{{Kind: domain.CounterBlack, Value: 1200}}, Unreported: []domain.CounterKind{domain.CounterColour}}}})
	s := open(t, url)
	s.SetClock(func() time.Time { return now })
	b := &readsBench{s: s, now: now, q1Start: date(2026, 1, 1), q1End: date(2026, 3, 31)}
	b.f, b.other = customer(t, s, "R1"), customer(t, s, "R2")
	b.device = put(t, s, b.f, "COL-1", &b.f.location.ID)
	b.mono = put(t, s, b.f, "MONO-1", nil)
	b.theirs = put(t, s, b.other, "THEIRS-1", &b.other.location.ID)
	must := func(id int64, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	db, d := s.DB(), s.Dialect()
	b.lastBilledID = must(storetest.InsertBillingRead(ctx, db, d, storetest.BillingRead{DeviceID: b.device.ID, ContractID: b.f.contract.ID,
		PeriodStart: date(2025, 10, 1), PeriodEnd: date(2025, 12, 31), Source: "manual", UserID: &b.f.user.ID,
		ReadAt: date(2026, 1, 5), Black: p64(39684), Colour: p64(89675)}))
	must(storetest.InsertBillingRead(ctx, db, d, storetest.BillingRead{DeviceID: b.device.ID, ContractID: b.f.contract.ID,
		PeriodStart: date(2025, 7, 1), PeriodEnd: date(2025, 9, 30), ReadAt: date(2025, 9, 30), Black: p64(36684), Colour: p64(88675)}))
	b.campaign = must(storetest.InsertCampaign(ctx, db, d, storetest.Campaign{DeviceID: b.device.ID, ContractID: b.f.contract.ID,
		PeriodStart: b.q1Start, PeriodEnd: b.q1End, ContactUserID: &b.f.user.ID, CreatedAt: date(2026, 4, 1)}))
	b.monoCampaign = must(storetest.InsertCampaign(ctx, db, d, storetest.Campaign{DeviceID: b.mono.ID, ContractID: b.f.contract.ID,
		PeriodStart: b.q1Start, PeriodEnd: b.q1End, CreatedAt: date(2026, 4, 1)}))
	must(storetest.InsertCampaign(ctx, db, d, storetest.Campaign{DeviceID: b.theirs.ID, ContractID: b.other.contract.ID,
		PeriodStart: b.q1Start, PeriodEnd: b.q1End, CreatedAt: date(2026, 4, 1)}))
	return b
}

// currentReads are the device's billing reads not superseded.
func currentReads(t *testing.T, s *store.Store, deviceID int64) (current, superseded int) {
	t.Helper()
	db := sqlxOf(s)
	if err := db.Get(&current, db.Rebind(`SELECT count(*) FROM billing_reads WHERE device_id = ? AND superseded_at IS NULL`), deviceID); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&superseded, db.Rebind(`SELECT count(*) FROM billing_reads WHERE device_id = ? AND superseded_at IS NOT NULL`), deviceID); err != nil {
		t.Fatal(err)
	}
	return current, superseded
}

func campaignState(t *testing.T, s *store.Store, id int64) string {
	t.Helper()
	var state string
	db := sqlxOf(s)
	if err := db.Get(&state, db.Rebind(`SELECT state FROM read_campaigns WHERE id = ?`), id); err != nil {
		t.Fatal(err)
	}
	return state
}

func TestMeterReadsToEnter(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := newReadsBench(t, be.url(t))
			ctx := context.Background()
			es, err := b.s.MeterReadsToEnter(ctx, b.f.account.ID, b.now)
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != 2 || es[0].Serial != "COL-1" || es[1].Serial != "MONO-1" {
				t.Fatalf("entries = %+v", es)
			}
			col, mono := es[0], es[1]
			if col.Location == nil || col.Location.Street != b.f.location.Street || mono.Location != nil {
				t.Errorf("locations: %+v, %+v", col.Location, mono.Location)
			}
			if col.LastBilled == nil || col.LastBilled.ID != b.lastBilledID || *col.LastBilled.Black != 39684 || *col.LastBilled.Colour != 89675 ||
				!col.LastBilled.ReadAt.Equal(date(2026, 1, 5)) {
				t.Errorf("last billed = %+v", col.LastBilled)
			}
			if col.Meters != (billing.Meters{Black: true, Colour: true}) || mono.Meters != (billing.Meters{Black: true}) {
				t.Errorf("meters: colour device %+v, mono device %+v", col.Meters, mono.Meters)
			}
			if !col.Open() || col.Status() != store.ReadToEnter || col.ClosesAt != nil || !col.PeriodEnd.Equal(b.q1End) || col.Entered != nil {
				t.Errorf("colour device's campaign: %+v", col)
			}

			// Another account sees its own device only; a device of no
			// campaign is not found.
			theirs, err := b.s.MeterReadsToEnter(ctx, b.other.account.ID, b.now)
			if err != nil || len(theirs) != 1 || theirs[0].DeviceID != b.theirs.ID {
				t.Errorf("other account's entries = %+v, %v", theirs, err)
			}
			if _, err := b.s.MeterReadToEnter(ctx, b.f.account.ID, b.theirs.ID, b.now); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("another account's device: %v", err)
			}

			// The third reminder sets the close; past it the read is
			// refused, and a month later the campaign leaves the page.
			closes := b.now.Add(48 * time.Hour)
			if err := storetest.CloseCampaign(ctx, b.s.DB(), b.s.Dialect(), b.campaign, closes); err != nil {
				t.Fatal(err)
			}
			e, err := b.s.MeterReadToEnter(ctx, b.f.account.ID, b.device.ID, b.now)
			if err != nil || e.ClosesAt == nil || !e.ClosesAt.Equal(closes) || !e.Open() || e.Reminders != 3 {
				t.Errorf("before the close: %+v, %v", e, err)
			}
			e, _ = b.s.MeterReadToEnter(ctx, b.f.account.ID, b.device.ID, closes)
			if e.Open() || e.Status() != store.ReadClosed {
				t.Errorf("at the close: open %v, status %s", e.Open(), e.Status())
			}
			if es, _ := b.s.MeterReadsToEnter(ctx, b.f.account.ID, closes.Add(40*24*time.Hour)); len(es) != 1 || es[0].Serial != "MONO-1" {
				t.Errorf("long after the close: %+v", es)
			}
		})
	}
}

func TestSubmitManualRead(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := newReadsBench(t, be.url(t))
			ctx := context.Background()
			submit := func(black, colour int64, photo *store.StoredPhoto) (store.BillingRead, error) {
				return b.s.SubmitManualRead(ctx, store.ManualRead{AccountID: b.f.account.ID, UserID: b.f.user.ID, DeviceID: b.device.ID,
					Black: p64(black), Colour: p64(colour), Photo: photo}, b.now)
			}

			r, err := submit(41000, 90100, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Source != "manual" || *r.Black != 41000 || *r.Colour != 90100 || r.Total != nil || r.Review != "none" || len(r.Flags) != 0 ||
				!r.PeriodEnd.Equal(b.q1End) || !r.ReadAt.Equal(b.now) {
				t.Errorf("read = %+v", r)
			}
			if st := campaignState(t, b.s, b.campaign); st != "read" {
				t.Errorf("campaign state %s, want read", st)
			}
			e, _ := b.s.MeterReadToEnter(ctx, b.f.account.ID, b.device.ID, b.now)
			if e.Status() != store.ReadEntered || e.Entered == nil || e.Entered.ID != r.ID || e.LastBilled.ID != b.lastBilledID {
				t.Errorf("after the read: status %s, entered %+v", e.Status(), e.Entered)
			}

			// Refusals change nothing.
			for _, tc := range []struct {
				name          string
				black, colour int64
				want          error
			}{
				{"lower without a photo", 39000, 90100, billing.ErrPhotoRequired},
				{"negative", -1, 90100, billing.ErrMeterNegative},
				{"absurd", billing.MaxMeter + 1, 90100, billing.ErrMeterTooLarge},
			} {
				if _, err := submit(tc.black, tc.colour, nil); !errors.Is(err, tc.want) || domain.ErrorCode(err) != domain.EINVALID {
					t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
				}
			}
			if _, err := b.s.SubmitManualRead(ctx, store.ManualRead{AccountID: b.f.account.ID, UserID: b.f.user.ID, DeviceID: b.device.ID, Black: p64(41000)}, b.now); !errors.Is(err, billing.ErrMeterMissing) {
				t.Errorf("colour missing: %v", err)
			}
			if _, err := b.s.SubmitManualRead(ctx, store.ManualRead{AccountID: b.f.account.ID, UserID: b.f.user.ID, DeviceID: b.theirs.ID,
				Black: p64(1), Colour: p64(1)}, b.now); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("another account's device: %v", err)
			}

			// Corrected with a lower colour meter and its photo: the first
			// read is superseded, the new one waits for review.
			r2, err := submit(41000, 100, &store.StoredPhoto{Name: "0123456789abcdef0123456789abcdef.png"})
			if err != nil {
				t.Fatal(err)
			}
			if r2.Review != "pending" || r2.Flags.String() != "lower_than_previous photo" || r2.PhotoPath == nil {
				t.Errorf("lower read with a photo = %+v", r2)
			}
			if cur, sup := currentReads(t, b.s, b.device.ID); cur != 3 || sup != 1 { // two earlier periods, this one, the first try
				t.Errorf("%d current reads, %d superseded", cur, sup)
			}
			e, _ = b.s.MeterReadToEnter(ctx, b.f.account.ID, b.device.ID, b.now)
			if e.Entered == nil || e.Entered.ID != r2.ID || *e.Entered.PhotoPath != *r2.PhotoPath || e.Entered.Review != "pending" {
				t.Errorf("entered = %+v", e.Entered)
			}

			// A jump: 50,000 black pages in a quarter where the history
			// says 3,000.
			r3, err := submit(90000, 90200, nil)
			if err != nil || r3.Review != "pending" || r3.Flags.String() != billing.FlagJump {
				t.Errorf("jump = %+v, %v", r3, err)
			}

			// The back office's queue holds the current read to review, and
			// the photos stay with their reads.
			rv, err := b.s.BillingReviewQueue(ctx, 0)
			if err != nil || len(rv) != 1 || rv[0].ID != r3.ID || rv[0].SubmittedBy != b.f.user.Email || rv[0].Serial != "COL-1" || rv[0].CustomerNumber != "R1" {
				t.Errorf("reviews = %+v, %v", rv, err)
			}
			if name, err := b.s.BillingReadPhoto(ctx, r2.ID); err != nil || name != *r2.PhotoPath {
				t.Errorf("photo of the superseded read = %q, %v", name, err)
			}
			if _, err := b.s.BillingReadPhoto(ctx, r.ID); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("photo of a read without one: %v", err)
			}

			// The mono device reads black only; its colour is ignored.
			m, err := b.s.SubmitManualRead(ctx, store.ManualRead{AccountID: b.f.account.ID, UserID: b.f.user.ID, DeviceID: b.mono.ID, Black: p64(1500), Colour: p64(7)}, b.now)
			if err != nil || *m.Black != 1500 || m.Colour != nil {
				t.Errorf("mono read = %+v, %v", m, err)
			}

			// After the close, a correction of the read entered is refused
			// with the reason; an agent read meanwhile, refused too.
			if err := storetest.CloseCampaign(ctx, b.s.DB(), b.s.Dialect(), b.campaign, b.now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			late := b.now.Add(time.Hour)
			if _, err := b.s.SubmitManualRead(ctx, store.ManualRead{AccountID: b.f.account.ID, UserID: b.f.user.ID, DeviceID: b.device.ID,
				Black: p64(91000), Colour: p64(90300)}, late); !errors.Is(err, store.ErrReadCorrectionClosed) || domain.ErrorCode(err) != domain.ECONFLICT {
				t.Errorf("after the close: %v", err)
			}
			db := sqlxOf(b.s)
			if _, err := db.Exec(db.Rebind(`UPDATE read_campaigns SET state = 'agent' WHERE id = ?`), b.monoCampaign); err != nil {
				t.Fatal(err)
			}
			if _, err := b.s.SubmitManualRead(ctx, store.ManualRead{AccountID: b.f.account.ID, UserID: b.f.user.ID, DeviceID: b.mono.ID, Black: p64(1600)}, b.now); !errors.Is(err, store.ErrReadByAgent) {
				t.Errorf("read by an agent: %v", err)
			}
		})
	}
}

// TestManualReadAfterARejectedRead: a read the back office rejected is no
// base for the next (loadPriorReads) nor the last invoiced read the page
// prefills: a read below it but above the one before needs no photo.
func TestManualReadAfterARejectedRead(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := newReadsBench(t, be.url(t))
			db := sqlxOf(b.s)
			if _, err := db.Exec(db.Rebind(`UPDATE billing_reads SET review = 'rejected' WHERE id = ?`), b.lastBilledID); err != nil {
				t.Fatal(err)
			}
			// The last invoiced read, prefilled on the page, is September's.
			if e, err := b.s.MeterReadToEnter(context.Background(), b.f.account.ID, b.device.ID, b.now); err != nil ||
				e.LastBilled == nil || e.LastBilled.ID == b.lastBilledID || !e.LastBilled.PeriodEnd.Equal(date(2025, 9, 30)) {
				t.Errorf("last invoiced read = %+v, %v; want September's, not the rejected one", e.LastBilled, err)
			}
			// 39,000 is below the rejected 39,684, above September's 36,684.
			r, err := b.s.SubmitManualRead(context.Background(), store.ManualRead{AccountID: b.f.account.ID, UserID: b.f.user.ID, DeviceID: b.device.ID,
				Black: p64(39000), Colour: p64(89000)}, b.now)
			if err != nil || r.Flags.String() != "" || r.Review != billing.ReviewNone {
				t.Errorf("read after a rejected one = %+v, %v; want no flag, no review", r, err)
			}
		})
	}
}

// TestSubmitManualReadTotal: a contract billing the total gets the sum of
// the meters read.
func TestSubmitManualReadTotal(t *testing.T) {
	b := newReadsBench(t, backends[0].url(t))
	ctx := context.Background()
	db := sqlxOf(b.s)
	if _, err := db.Exec(db.Rebind(`UPDATE contracts SET bills_total = ? WHERE id = ?`), true, b.f.contract.ID); err != nil {
		t.Fatal(err)
	}
	r, err := b.s.SubmitManualRead(ctx, store.ManualRead{AccountID: b.f.account.ID, UserID: b.f.user.ID, DeviceID: b.device.ID, Black: p64(40000), Colour: p64(90000)}, b.now)
	if err != nil || r.Total == nil || *r.Total != 130000 {
		t.Errorf("read = %+v, %v", r, err)
	}
}

// TestSubmitManualReadAtOnce: two reads typed in at once for the same
// campaign (two users, two tabs) take turns: one is the period's read,
// the other is kept superseded.
func TestSubmitManualReadAtOnce(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := newReadsBench(t, be.url(t))
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() {
					_, errs[i] = b.s.SubmitManualRead(context.Background(), store.ManualRead{AccountID: b.f.account.ID, UserID: b.f.user.ID,
						DeviceID: b.device.ID, Black: p64(40000 + int64(i)), Colour: p64(90000)}, b.now)
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("read %d: %v", i, err)
				}
			}
			if cur, sup := currentReads(t, b.s, b.device.ID); cur != 3 || sup != 3 {
				t.Errorf("%d current reads, %d superseded; want 3 and 3", cur, sup)
			}
		})
	}
}

func TestRequestReadAutomation(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := newReadsBench(t, be.url(t))
			ctx := context.Background()
			tomorrow := b.now.AddDate(0, 0, 1)
			in := store.ReadAutomation{AccountID: b.f.account.ID, UserID: b.f.user.ID, DeviceID: b.device.ID,
				Address: " 30 rue de Gramont, 75002 Paris ", ContactName: "Alexandra Martin", ContactPhone: "01 40 22 08 80", PreferredDate: &tomorrow}
			a, err := b.s.RequestReadAutomation(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if a.ID == 0 || a.Address != "30 rue de Gramont, 75002 Paris" || !a.PreferredDate.Equal(date(2026, 4, 4)) || !a.CreatedAt.Equal(b.now) {
				t.Errorf("request = %+v", a)
			}
			if e, _ := b.s.MeterReadToEnter(ctx, b.f.account.ID, b.device.ID, b.now); !e.AutomationRequested {
				t.Error("the entry does not say the automation is requested")
			}
			yesterday := b.now.AddDate(0, 0, -1)
			far := b.now.AddDate(1, 0, 2)
			for _, tc := range []struct {
				name string
				edit func(*store.ReadAutomation)
				want string
			}{
				{"asked twice", func(*store.ReadAutomation) {}, domain.ECONFLICT},
				{"another account's device", func(a *store.ReadAutomation) { a.DeviceID = b.theirs.ID }, domain.ENOTFOUND},
				{"no address", func(a *store.ReadAutomation) { a.DeviceID, a.Address = b.mono.ID, "  " }, domain.EINVALID},
				{"no contact", func(a *store.ReadAutomation) { a.DeviceID, a.ContactName = b.mono.ID, "" }, domain.EINVALID},
				{"a line break in the name", func(a *store.ReadAutomation) { a.DeviceID, a.ContactName = b.mono.ID, "A\nB" }, domain.EINVALID},
				{"a date past", func(a *store.ReadAutomation) { a.DeviceID, a.PreferredDate = b.mono.ID, &yesterday }, domain.EINVALID},
				{"a date too far", func(a *store.ReadAutomation) { a.DeviceID, a.PreferredDate = b.mono.ID, &far }, domain.EINVALID},
			} {
				x := in
				tc.edit(&x)
				_, err := b.s.RequestReadAutomation(ctx, x)
				code(t, tc.name, err, tc.want)
			}
			if open, err := b.s.BackOfficeReadAutomations(ctx, 0); err != nil || len(open) != 1 || open[0].ID != a.ID || open[0].UserEmail != b.f.user.Email ||
				open[0].Serial != "COL-1" || !open[0].PreferredDate.Equal(date(2026, 4, 4)) {
				t.Errorf("open automation requests = %+v, %v", open, err)
			}
			// No date: any time suits.
			in.DeviceID, in.PreferredDate = b.mono.ID, nil
			if _, err := b.s.RequestReadAutomation(ctx, in); err != nil {
				t.Errorf("without a date: %v", err)
			}
		})
	}
}
