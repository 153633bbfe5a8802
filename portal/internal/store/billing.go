package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/billing"
)

// Billing meter reads (issue 16, schema 0014): for every device under
// contract and every billing period, the read the invoice uses. The
// arithmetic is package billing's; this file holds the rows and their
// reads; the writes every source shares (putRealRead, putEstimate) are in
// billing_write.go, the jobs in billing_close.go and billing_campaign.go,
// and the meter-read page's reads and writes in billing_manual.go.

// MeterReadsPath is the portal's meter-read page, where a campaign's
// e-mails link (BaseURL + MeterReadsPath); the web serves it.
const MeterReadsPath = "/reads"

// BillingRead is a row of billing_reads: the read an invoice uses for a
// device and a period. It is the one type of the row: the period close
// and the campaigns write it (putRealRead, putEstimate), a read typed in
// is one (SubmitManualRead, MeterReadEntry), and the export and the
// review queue read it with its device and contract (BillingReadDetail).
// A meter is nil when the contract does not bill it or the device does
// not have it; a read typed in keeps the black and colour meters read.
type BillingRead struct {
	ID          int64     `db:"id"`
	DeviceID    int64     `db:"device_id"`
	ContractID  int64     `db:"contract_id"`
	PeriodStart time.Time `db:"period_start"`
	PeriodEnd   time.Time `db:"period_end"`
	// Source is billing.SourceAgent, SourceManual or SourceEstimated.
	Source string    `db:"source"`
	ReadAt time.Time `db:"read_at"`
	Black  *int64    `db:"black"`
	Colour *int64    `db:"colour"`
	Total  *int64    `db:"total"`
	// Method says how an estimate was made (billing.Method…).
	Method string        `db:"method"`
	Flags  billing.Flags `db:"flags"`
	// PhotoPath is the name package upload stored the photo of the
	// counters under, nil for none.
	PhotoPath *string `db:"photo_path"`
	// Review is billing.ReviewNone, ReviewPending, ReviewAccepted or
	// ReviewRejected.
	Review            string     `db:"review"`
	SubmittedByUserID *int64     `db:"submitted_by_user_id"`
	CreatedAt         time.Time  `db:"created_at"`
	SupersededAt      *time.Time `db:"superseded_at"`
}

// billingReadColumns read a BillingRead from billing_reads b.
const billingReadColumns = `b.id, b.device_id, b.contract_id, b.period_start, b.period_end, b.source, b.read_at, b.black, b.colour, b.total,
    b.method, b.flags, b.photo_path, b.review, b.submitted_by_user_id, b.created_at, b.superseded_at`

func (b *BillingRead) utc() {
	b.PeriodStart, b.PeriodEnd = dbDate(b.PeriodStart), dbDate(b.PeriodEnd)
	b.ReadAt, b.CreatedAt = b.ReadAt.UTC(), b.CreatedAt.UTC()
	if b.SupersededAt != nil {
		t := b.SupersededAt.UTC()
		b.SupersededAt = &t
	}
}

// selectBillingReads runs query, which selects billingReadColumns, and
// returns its rows.
func selectBillingReads(ctx context.Context, q sqlx.ExtContext, query string, args ...any) ([]BillingRead, error) {
	var out []BillingRead
	if err := sqlx.SelectContext(ctx, q, &out, q.Rebind(query), args...); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].utc()
	}
	return out, nil
}

// getBillingRead runs query, which selects billingReadColumns, and
// returns its one row (sql.ErrNoRows when there is none).
func getBillingRead(ctx context.Context, q sqlx.ExtContext, query string, args ...any) (BillingRead, error) {
	var b BillingRead
	if err := sqlx.GetContext(ctx, q, &b, q.Rebind(query), args...); err != nil {
		return BillingRead{}, err
	}
	b.utc()
	return b, nil
}

// Estimated reports whether the invoice uses an estimate, not a read.
func (b BillingRead) Estimated() bool { return b.Source == billing.SourceEstimated }

// Meters are the read's meters.
func (b BillingRead) Meters() billing.MeterValues {
	return billing.MeterValues{Black: b.Black, Colour: b.Colour, Total: b.Total}
}

// Reading is the read as billing computes with it.
func (b BillingRead) Reading() billing.Reading {
	return billing.Reading{At: b.ReadAt, Meters: b.Meters()}
}

// Period is the read's billing period.
func (b BillingRead) Period() billing.Period {
	return billing.Period{Start: b.PeriodStart, End: b.PeriodEnd}
}

// Campaign states (read_campaigns.state).
const (
	// CampaignOpen: waiting for a read.
	CampaignOpen = "open"
	// CampaignRead: a user entered the read.
	CampaignRead = "read"
	// CampaignAgent: an agent read in the window arrived meanwhile; the
	// device left the campaign.
	CampaignAgent = "agent"
	// CampaignClosed: no read came; the period is estimated.
	CampaignClosed = "closed"
)

// ReadCampaign is a row of read_campaigns: the manual-read campaign of a
// device for a period no agent read (seed 003).
type ReadCampaign struct {
	ID          int64     `db:"id"`
	DeviceID    int64     `db:"device_id"`
	ContractID  int64     `db:"contract_id"`
	PeriodStart time.Time `db:"period_start"`
	PeriodEnd   time.Time `db:"period_end"`
	// ContactUserID is whom the e-mails go to: the device's meter-read
	// contact, else the account's primary user; nil when there was none.
	ContactUserID *int64 `db:"contact_user_id"`
	// State is CampaignOpen, CampaignRead, CampaignAgent or CampaignClosed.
	State          string     `db:"state"`
	InvitedAt      *time.Time `db:"invited_at"`
	Reminders      int        `db:"reminders"`
	LastReminderAt *time.Time `db:"last_reminder_at"`
	// ClosesAt is set with the third reminder (48 hours later), or when
	// the campaign opens for a device nobody can be invited for.
	ClosesAt  *time.Time `db:"closes_at"`
	EndedAt   *time.Time `db:"ended_at"`
	CreatedAt time.Time  `db:"created_at"`
}

const campaignColumns = `rc.id, rc.device_id, rc.contract_id, rc.period_start, rc.period_end, rc.contact_user_id, rc.state,
    rc.invited_at, rc.reminders, rc.last_reminder_at, rc.closes_at, rc.ended_at, rc.created_at`

func (c *ReadCampaign) utc() {
	c.PeriodStart, c.PeriodEnd, c.CreatedAt = dbDate(c.PeriodStart), dbDate(c.PeriodEnd), c.CreatedAt.UTC()
	for _, t := range []**time.Time{&c.InvitedAt, &c.LastReminderAt, &c.ClosesAt, &c.EndedAt} {
		if *t != nil {
			u := (**t).UTC()
			*t = &u
		}
	}
}

// Period is the campaign's billing period.
func (c ReadCampaign) Period() billing.Period {
	return billing.Period{Start: c.PeriodStart, End: c.PeriodEnd}
}

// campaignDeadline is when a campaign closes, or would with its
// reminders on time.
func (s *Store) campaignDeadline(c ReadCampaign) time.Time {
	switch {
	case c.ClosesAt != nil:
		return *c.ClosesAt
	case c.InvitedAt != nil:
		return c.InvitedAt.Add(s.billing.Lifetime())
	default:
		return c.CreatedAt.Add(s.billing.Lifetime())
	}
}

// billedNotRejected selects, in billing_reads b, the reads that stand: not
// superseded by a later one of their period, not rejected by the back
// office (its values are not the device's). Every query that looks back
// at what was billed uses it.
const billedNotRejected = `b.superseded_at IS NULL AND b.review <> 'rejected'`

// lastBillingRead is the device's current billing read of the latest
// period ending before periodEnd: an estimate's base. A read the back
// office rejected is never invoiced, so it is not one (nor, on the
// meter-read page, the last invoiced read: billedReadsQuery).
func lastBillingRead(ctx context.Context, q sqlx.ExtContext, deviceID int64, periodEnd time.Time) (BillingRead, error) {
	return getBillingRead(ctx, q, `SELECT `+billingReadColumns+` FROM billing_reads b
WHERE b.device_id = ? AND b.period_end < ? AND `+billedNotRejected+`
ORDER BY b.period_end DESC LIMIT 1`, deviceID, dbDate(periodEnd))
}

// CurrentBillingRead returns the device's current billing read of the
// period ending periodEnd, ENOTFOUND when there is none.
func (s *Store) CurrentBillingRead(ctx context.Context, deviceID int64, periodEnd time.Time) (BillingRead, error) {
	b, err := getBillingRead(ctx, s.db, `SELECT `+billingReadColumns+` FROM billing_reads b
WHERE b.device_id = ? AND b.period_end = ? AND b.superseded_at IS NULL`, deviceID, dbDate(periodEnd))
	if err != nil {
		return BillingRead{}, fmt.Errorf("store: billing read of device %d: %w",
			deviceID, notFound(err, "device %d has no billing read for the period ending %s", deviceID, periodEnd.Format(time.DateOnly)))
	}
	return b, nil
}

// DeviceBillingReads lists every billing read of a device, superseded
// ones included, by period and then in the order they were written.
func (s *Store) DeviceBillingReads(ctx context.Context, deviceID int64) ([]BillingRead, error) {
	out, err := selectBillingReads(ctx, s.db, `SELECT `+billingReadColumns+` FROM billing_reads b
WHERE b.device_id = ? ORDER BY b.period_end, b.id`, deviceID)
	if err != nil {
		return nil, fmt.Errorf("store: billing reads of device %d: %w", deviceID, err)
	}
	return out, nil
}

// DeviceCampaigns lists a device's campaigns, by period.
func (s *Store) DeviceCampaigns(ctx context.Context, deviceID int64) ([]ReadCampaign, error) {
	var out []ReadCampaign
	err := s.db.SelectContext(ctx, &out, s.db.Rebind(`SELECT `+campaignColumns+` FROM read_campaigns rc
WHERE rc.device_id = ? ORDER BY rc.period_end`), deviceID)
	if err != nil {
		return nil, fmt.Errorf("store: campaigns of device %d: %w", deviceID, err)
	}
	for i := range out {
		out[i].utc()
	}
	return out, nil
}

// BillingConfig is the store's billing configuration (billing.DefaultConfig
// unless SetBillingConfig changed it).
func (s *Store) BillingConfig() billing.Config { return s.billing }

// SetBillingConfig sets the tolerance window, campaign schedule, estimate
// and jump rules the store's billing follows.
func (s *Store) SetBillingConfig(c billing.Config) error {
	if err := c.Check(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	s.billing = c
	return nil
}
