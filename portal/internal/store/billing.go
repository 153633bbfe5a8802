package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/shared/domain"
)

// Billing meter reads (issue 16, schema 0014): for every device under
// contract and every billing period, the read the invoice uses. The
// arithmetic is package billing's; this file holds the rows, the reads the
// web needs, and the writes every source shares (putRealRead,
// putEstimate). The jobs are in billing_close.go and billing_campaign.go.

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

// TakesReads reports whether the campaign still takes a read at now: it
// waits for one (open), or has one that may still be corrected (read),
// and its closing time, if set, has not come (SubmitManualRead's rule,
// MeterReadEntry.Open).
func (c ReadCampaign) TakesReads(now time.Time) bool {
	return (c.State == CampaignOpen || c.State == CampaignRead) && (c.ClosesAt == nil || now.Before(*c.ClosesAt))
}

// CampaignClosedError is CampaignOpenFor's error for a campaign that no
// longer takes a read; its domain code is ECONFLICT. Reason is the
// campaign's state: CampaignAgent (its agent read it), CampaignRead (its
// read is in and the time to correct it is over), or CampaignClosed (no
// read came: estimated; also when its closing time has come but the job
// has not yet closed it).
type CampaignClosedError struct {
	Campaign ReadCampaign
	Reason   string
}

func (e *CampaignClosedError) Error() string { return e.domain().Error() }

// Unwrap gives the domain error, so that domain.ErrorCode is ECONFLICT.
func (e *CampaignClosedError) Unwrap() error { return e.domain() }

func (e *CampaignClosedError) domain() *domain.Error {
	var why string
	switch e.Reason {
	case CampaignRead:
		why = "its read is in and can no longer be corrected"
	case CampaignAgent:
		why = "the device's agent read it"
	default:
		why = "the campaign is closed and the period is estimated; the next period's read regularises it"
	}
	return domain.Errorf(domain.ECONFLICT, "the meter-read campaign of device %d for the period ending %s takes no more reads: %s",
		e.Campaign.DeviceID, e.Campaign.PeriodEnd.Format(time.DateOnly), why)
}

// CampaignOpenFor returns the device's latest campaign when it still
// takes a read (or a correction of the read typed in) at now.
// A device of another account, or one never in a campaign, is ENOTFOUND;
// a campaign that no longer takes reads is a *CampaignClosedError
// (ECONFLICT) saying why.
func (s *Store) CampaignOpenFor(ctx context.Context, accountID, deviceID int64, now time.Time) (ReadCampaign, error) {
	c, err := latestCampaign(ctx, s.db, accountID, deviceID)
	if err != nil {
		return ReadCampaign{}, fmt.Errorf("store: campaign of device %d: %w", deviceID, err)
	}
	if !c.TakesReads(now) {
		reason := c.State
		if reason == CampaignOpen {
			reason = CampaignClosed
		}
		return c, &CampaignClosedError{Campaign: c, Reason: reason}
	}
	return c, nil
}

// latestCampaign reads the device's campaign of the latest period, the
// device being the account's.
func latestCampaign(ctx context.Context, q sqlx.ExtContext, accountID, deviceID int64) (ReadCampaign, error) {
	var c ReadCampaign
	err := sqlx.GetContext(ctx, q, &c, q.Rebind(`SELECT `+campaignColumns+`
FROM read_campaigns rc JOIN devices d ON d.id = rc.device_id
WHERE rc.device_id = ? AND d.account_id = ?
ORDER BY rc.period_end DESC LIMIT 1`), deviceID, accountID)
	if err != nil {
		return ReadCampaign{}, notFound(err, "device %d of account %d has no meter-read campaign", deviceID, accountID)
	}
	c.utc()
	return c, nil
}

// CampaignDevice is an open campaign with what the meter-read page shows
// of its device: what it is, where, the meters to read, the last invoiced
// read and the deadline.
type CampaignDevice struct {
	Campaign ReadCampaign
	Serial   string
	Model    string
	// Location is the device's shipping location, nil when it has none.
	Location *Location
	// The meters the contract bills.
	BillsBlack, BillsColour, BillsTotal bool
	// HasColour: the device has shown a colour meter (an agent read or a
	// billing read with one). A contract billing colour on a device that
	// never showed one still asks for it.
	HasColour bool
	// LastBilled is the device's billing read of the latest period before
	// the campaign's (the last invoiced read), nil when there is none.
	LastBilled *BillingRead
	// Deadline is when the campaign closes: ClosesAt once the third
	// reminder went (or set at opening when nobody could be invited),
	// else what it would be with every reminder on time.
	Deadline time.Time
}

// AccountOpenCampaigns lists the account's devices in an open campaign
// (the meter-read page, seed 003), by serial. A campaign whose closing
// time has passed but that the job has not closed yet is left out: it
// takes no more reads.
func (s *Store) AccountOpenCampaigns(ctx context.Context, accountID int64) ([]CampaignDevice, error) {
	now := dbTime(s.now())
	var rows []struct {
		ReadCampaign
		Serial      string         `db:"serial"`
		Model       string         `db:"model"`
		LocationID  sql.NullInt64  `db:"location_id"`
		BillsBlack  bool           `db:"bills_black"`
		BillsColour bool           `db:"bills_colour"`
		BillsTotal  bool           `db:"bills_total"`
		LastColour  sql.NullInt64  `db:"last_colour"`
		AgentID     sql.NullString `db:"agent_id"`
	}
	err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+campaignColumns+`, d.serial, d.model, d.location_id, d.last_colour, d.agent_id,
       c.bills_black, c.bills_colour, c.bills_total
FROM read_campaigns rc
JOIN devices d ON d.id = rc.device_id
JOIN contracts c ON c.id = rc.contract_id
WHERE d.account_id = ? AND rc.state = 'open' AND (rc.closes_at IS NULL OR rc.closes_at > ?)
ORDER BY d.serial, rc.period_end`), accountID, now)
	if err != nil {
		return nil, fmt.Errorf("store: open campaigns of account %d: %w", accountID, err)
	}
	out := make([]CampaignDevice, 0, len(rows))
	for _, r := range rows {
		r.ReadCampaign.utc()
		cd := CampaignDevice{Campaign: r.ReadCampaign, Serial: r.Serial, Model: r.Model,
			BillsBlack: r.BillsBlack, BillsColour: r.BillsColour, BillsTotal: r.BillsTotal,
			HasColour: r.LastColour.Valid, Deadline: s.campaignDeadline(r.ReadCampaign)}
		if r.LocationID.Valid {
			l, err := s.AccountLocation(ctx, accountID, r.LocationID.Int64)
			if err != nil {
				return nil, fmt.Errorf("store: open campaigns of account %d: %w", accountID, err)
			}
			cd.Location = &l
		}
		last, err := lastBillingRead(ctx, s.db, r.DeviceID, r.PeriodEnd)
		switch {
		case err == nil:
			cd.LastBilled = &last
			cd.HasColour = cd.HasColour || last.Colour != nil
		case !errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("store: open campaigns of account %d: %w", accountID, err)
		}
		out = append(out, cd)
	}
	return out, nil
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

// LastBillingRead returns the device's current billing read of the latest
// period ending before periodEnd (the last invoiced read before that
// period), ENOTFOUND when there is none.
func (s *Store) LastBillingRead(ctx context.Context, deviceID int64, periodEnd time.Time) (BillingRead, error) {
	b, err := lastBillingRead(ctx, s.db, deviceID, periodEnd)
	if err != nil {
		return BillingRead{}, fmt.Errorf("store: last billing read of device %d: %w",
			deviceID, notFound(err, "device %d has no billing read before %s", deviceID, periodEnd.Format(time.DateOnly)))
	}
	return b, nil
}

// lastBillingRead is the device's current billing read of the latest
// period ending before periodEnd. A read the back office rejected is
// never invoiced: it is neither shown as the last invoiced read nor the
// base of an estimate.
func lastBillingRead(ctx context.Context, q sqlx.ExtContext, deviceID int64, periodEnd time.Time) (BillingRead, error) {
	return getBillingRead(ctx, q, `SELECT `+billingReadColumns+` FROM billing_reads b
WHERE b.device_id = ? AND b.period_end < ? AND b.superseded_at IS NULL AND b.review <> 'rejected'
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
