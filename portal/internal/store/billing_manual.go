package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
)

// The meter reads customers type in on the portal (issue 16, seed 003):
// the devices of an account whose read campaign waits for them, the read
// itself, and the requests to have the reads automated. The tables are
// migration 0014's (billing_reads, read_campaigns,
// read_automation_requests); the campaigns are opened, reminded and
// closed by the billing jobs, not here.

// Refusals of a manual read beyond billing's rules. Test with errors.Is.
var (
	// ErrReadCampaignClosed: the campaign closed (48 hours after its third
	// reminder): the invoice is estimated and the customer regularises
	// with the next period's read.
	ErrReadCampaignClosed = domain.Errorf(domain.ECONFLICT, "the meter-read campaign is closed: the invoice is estimated, and the next period's read regularises it")
	// ErrReadCorrectionClosed: the campaign closed with the customer's read
	// in: that read is the period's and can no longer be corrected here.
	ErrReadCorrectionClosed = domain.Errorf(domain.ECONFLICT, "the meter-read campaign is closed: the read entered is the period's and can no longer be corrected")
	// ErrReadByAgent: an agent read the device within the period's window
	// meanwhile, so it left the campaign and needs no read typed in.
	ErrReadByAgent = domain.Errorf(domain.ECONFLICT, "an agent read this device for the period: no read is needed")
	// ErrAutomationDate: the preferred date of an automation request is
	// not between today and a year from now.
	ErrAutomationDate = domain.Errorf(domain.EINVALID, "the preferred date is not between today and a year from now")
)

// Limits of an automation request's fields.
const (
	MaxAutomationAddress = 500
	MaxAutomationContact = 200
	MaxAutomationPhone   = 40
)

// MeterReadStatus is where a device's campaign stands for the customer.
type MeterReadStatus string

// Statuses of MeterReadEntry.
const (
	// ReadToEnter: the campaign is open and waits for the read.
	ReadToEnter MeterReadStatus = "to_enter"
	// ReadEntered: the read is in; it may be corrected until the close.
	ReadEntered MeterReadStatus = "entered"
	// ReadClosed: the campaign closed without a read: estimated invoice.
	ReadClosed MeterReadStatus = "closed"
	// ReadDone: the campaign closed with the customer's read.
	ReadDone MeterReadStatus = "done"
	// ReadByAgent: an agent read the device; it left the campaign.
	ReadByAgent MeterReadStatus = "agent"
)

// MeterReadEntry is a device of an account and its latest read campaign,
// as the meter-read page shows it.
type MeterReadEntry struct {
	CampaignID  int64
	DeviceID    int64
	ContractID  int64
	Serial      string
	Model       string
	Location    *LocationAddress
	PeriodStart time.Time
	PeriodEnd   time.Time
	// State is the campaign's: open, read, agent or closed.
	State     string
	Reminders int
	// ClosesAt is set with the third reminder; until then the deadline is
	// "48 hours after the third reminder".
	ClosesAt *time.Time
	// Meters are those the customer types in (billing.MetersToRead).
	Meters billing.Meters
	// LastBilled is the device's last invoiced read (estimated or not,
	// not rejected), whose values prefill the form; for a device never
	// billed, its opening read under the contract (device, time and
	// meters); nil when it has neither.
	LastBilled *BillingRead
	// Entered is the read typed in for this campaign, nil before it.
	Entered *BillingRead
	// AutomationRequested: a request to automate the device's reads is
	// open.
	AutomationRequested bool
	now                 time.Time
}

// Open reports whether a read may be typed in (or corrected) now: the
// campaign waits for it or has it, and its closing time has not come,
// whether or not the campaigns job has closed it yet. It is the one rule
// of a read's deadline: the page and SubmitManualRead (refusal) follow it.
func (e MeterReadEntry) Open() bool {
	return (e.State == CampaignOpen || e.State == CampaignRead) && (e.ClosesAt == nil || e.now.Before(*e.ClosesAt))
}

// Status is where the campaign stands for the customer.
func (e MeterReadEntry) Status() MeterReadStatus {
	switch {
	case e.State == CampaignAgent:
		return ReadByAgent
	case e.Open() && e.Entered != nil:
		return ReadEntered
	case e.Open():
		return ReadToEnter
	case e.Entered != nil:
		return ReadDone
	}
	return ReadClosed
}

// refusal is the error a read typed in now meets, nil when it may be.
func (e MeterReadEntry) refusal() error {
	switch e.Status() {
	case ReadByAgent:
		return ErrReadByAgent
	case ReadDone:
		return ErrReadCorrectionClosed
	case ReadClosed:
		return ErrReadCampaignClosed
	}
	return nil
}

// recentlyEnded is how long a closed campaign stays on the page, so that a
// customer following a late e-mail reads why the read is refused.
const recentlyEnded = 31 * 24 * time.Hour

// MeterReadsToEnter lists the devices of an account that have a read
// campaign, by serial: those whose campaign is open (to enter, or entered
// and correctable until the close) and those whose campaign closed less
// than a month ago (with why no read is taken). A device an agent read
// meanwhile is not listed.
func (s *Store) MeterReadsToEnter(ctx context.Context, accountID int64, now time.Time) ([]MeterReadEntry, error) {
	all, err := s.meterReadEntries(ctx, s.db, accountID, 0, now)
	if err != nil {
		return nil, fmt.Errorf("store: meter reads of account %d: %w", accountID, err)
	}
	out := all[:0]
	for _, e := range all {
		if e.Status() == ReadByAgent {
			continue
		}
		if !e.Open() {
			ended := e.PeriodEnd
			if e.ClosesAt != nil {
				ended = *e.ClosesAt
			}
			if now.Sub(ended) > recentlyEnded {
				continue
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// MeterReadToEnter is the latest read campaign of a device of the account,
// open or not; a device of another account, or one that never had a
// campaign, is ENOTFOUND.
func (s *Store) MeterReadToEnter(ctx context.Context, accountID, deviceID int64, now time.Time) (MeterReadEntry, error) {
	e, err := s.meterReadEntry(ctx, s.db, accountID, deviceID, now)
	if err != nil {
		return MeterReadEntry{}, fmt.Errorf("store: meter read of device %d: %w", deviceID, err)
	}
	return e, nil
}

func (s *Store) meterReadEntry(ctx context.Context, q sqlx.ExtContext, accountID, deviceID int64, now time.Time) (MeterReadEntry, error) {
	if deviceID <= 0 {
		return MeterReadEntry{}, domain.Errorf(domain.ENOTFOUND, "no read campaign for device %d", deviceID)
	}
	es, err := s.meterReadEntries(ctx, q, accountID, deviceID, now)
	if err != nil {
		return MeterReadEntry{}, err
	}
	if len(es) == 0 {
		return MeterReadEntry{}, domain.Errorf(domain.ENOTFOUND, "no read campaign for device %d in this account", deviceID)
	}
	return es[0], nil
}

// campaignRow is a row of latestCampaignsQuery.
type campaignRow struct {
	CampaignID  int64         `db:"campaign_id"`
	DeviceID    int64         `db:"device_id"`
	ContractID  int64         `db:"contract_id"`
	PeriodStart time.Time     `db:"period_start"`
	PeriodEnd   time.Time     `db:"period_end"`
	State       string        `db:"state"`
	Reminders   int           `db:"reminders"`
	ClosesAt    sql.NullTime  `db:"closes_at"`
	Serial      string        `db:"serial"`
	Model       string        `db:"model"`
	ReportedCol sql.NullInt64 `db:"reported_colour"`
	Unreported  []byte        `db:"unreported"`
	BillsBlack  bool          `db:"bills_black"`
	BillsColour bool          `db:"bills_colour"`
	BillsTotal  bool          `db:"bills_total"`
	HasLocation bool          `db:"has_location"`
	nullAddress
	Automation bool `db:"automation_requested"`
	// The device's opening read under the contract, if any.
	OpeningAt     sql.NullTime `db:"opening_read_at"`
	OpeningBlack  *int64       `db:"opening_black"`
	OpeningColour *int64       `db:"opening_colour"`
	OpeningTotal  *int64       `db:"opening_total"`
}

// latestCampaignsQuery is the latest read campaign of each device of an
// account that has one (deviceFilter narrows it to one device), with what
// the page shows of the device and its contract. The campaign reads of
// this file are this one statement: the billing jobs own the campaigns.
const latestCampaignsQuery = `
SELECT c.id AS campaign_id, c.device_id, c.contract_id, c.period_start, c.period_end, c.state, c.reminders, c.closes_at,
       d.serial, d.model, d.last_colour AS reported_colour, r.unreported,
       k.bills_black, k.bills_colour, k.bills_total,
       l.id IS NOT NULL AS has_location,
       l.company, l.street, l.city, l.province, l.postal_code, l.country,
       EXISTS (SELECT 1 FROM read_automation_requests a
               WHERE a.device_id = c.device_id AND a.account_id = d.account_id AND a.resolved_at IS NULL) AS automation_requested,
       o.read_at AS opening_read_at, o.black AS opening_black, o.colour AS opening_colour, o.total AS opening_total
FROM read_campaigns c
JOIN devices d ON d.id = c.device_id
JOIN contracts k ON k.id = c.contract_id AND k.account_id = d.account_id
LEFT JOIN shipping_locations l ON l.id = d.location_id AND l.account_id = d.account_id
LEFT JOIN meter_reads r ON r.device_id = d.id AND r.read_at = d.last_read_at
LEFT JOIN opening_reads o ON o.device_id = c.device_id AND o.contract_id = c.contract_id
WHERE d.account_id = ?
  AND c.period_end = (SELECT max(c2.period_end) FROM read_campaigns c2 WHERE c2.device_id = c.device_id)`

// billedReadsQuery is the current billing reads, not rejected, of an
// account's devices that had a campaign (deviceFilter narrows it), oldest
// period first.
const billedReadsQuery = `
SELECT ` + billingReadColumns + `
FROM billing_reads b
JOIN devices d ON d.id = b.device_id
WHERE d.account_id = ? AND ` + billedNotRejected + `
  AND EXISTS (SELECT 1 FROM read_campaigns c WHERE c.device_id = b.device_id)`

// meterReadEntries reads the latest campaign of the account's devices (of
// one device when deviceID is not 0) with their invoiced reads: two
// statements, whatever the number of devices.
func (s *Store) meterReadEntries(ctx context.Context, q sqlx.ExtContext, accountID, deviceID int64, now time.Time) ([]MeterReadEntry, error) {
	campaignsSQL, readsSQL := latestCampaignsQuery, billedReadsQuery
	args := []any{accountID}
	if deviceID != 0 {
		campaignsSQL += ` AND c.device_id = ?`
		readsSQL += ` AND b.device_id = ?`
		args = append(args, deviceID)
	}
	var campaigns []campaignRow
	if err := sqlx.SelectContext(ctx, q, &campaigns, schema.Rebind(s.dialect, campaignsSQL+` ORDER BY d.serial, d.id`), args...); err != nil {
		return nil, fmt.Errorf("read campaigns: %w", err)
	}
	if len(campaigns) == 0 {
		return nil, nil
	}
	reads, err := selectBillingReads(ctx, q, readsSQL+` ORDER BY b.device_id, b.period_end`, args...)
	if err != nil {
		return nil, fmt.Errorf("billing reads: %w", err)
	}
	byDevice := map[int64][]BillingRead{}
	for _, r := range reads {
		byDevice[r.DeviceID] = append(byDevice[r.DeviceID], r)
	}
	out := make([]MeterReadEntry, 0, len(campaigns))
	for _, c := range campaigns {
		e, err := c.entry(byDevice[c.DeviceID], now)
		if err != nil {
			return nil, fmt.Errorf("device %d: %w", c.DeviceID, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// entry is a campaign row with the device's invoiced reads.
func (c campaignRow) entry(reads []BillingRead, now time.Time) (MeterReadEntry, error) {
	e := MeterReadEntry{CampaignID: c.CampaignID, DeviceID: c.DeviceID, ContractID: c.ContractID, Serial: c.Serial, Model: c.Model,
		PeriodStart: dbDate(c.PeriodStart), PeriodEnd: dbDate(c.PeriodEnd), State: c.State, Reminders: c.Reminders,
		AutomationRequested: c.Automation, now: now}
	if c.ClosesAt.Valid {
		at := c.ClosesAt.Time.UTC()
		e.ClosesAt = &at
	}
	if c.HasLocation {
		a := c.address()
		e.Location = &a
	}
	var unreported []domain.CounterKind
	if len(c.Unreported) > 0 {
		if err := json.Unmarshal(c.Unreported, &unreported); err != nil {
			return e, fmt.Errorf("decode unreported meters: %w", err)
		}
	}
	facts := billing.DeviceFacts{BillsBlack: c.BillsBlack, BillsColour: c.BillsColour, BillsTotal: c.BillsTotal,
		ReportsColour: c.ReportedCol.Valid, ColourUnreported: slices.Contains(unreported, domain.CounterColour)}
	for i := range reads {
		r := reads[i]
		switch {
		case r.PeriodEnd.Equal(e.PeriodEnd) && r.Source == billing.SourceManual:
			e.Entered = &r
		case r.PeriodEnd.Before(e.PeriodEnd):
			e.LastBilled = &r
			facts.BilledColour = facts.BilledColour || r.Colour != nil
		}
	}
	if e.LastBilled == nil && c.OpeningAt.Valid {
		e.LastBilled = &BillingRead{DeviceID: c.DeviceID, ContractID: c.ContractID, ReadAt: c.OpeningAt.Time.UTC(),
			Black: c.OpeningBlack, Colour: c.OpeningColour, Total: c.OpeningTotal}
	}
	e.Meters = billing.MetersToRead(facts)
	return e, nil
}

// StoredPhoto is a photo of the device's counters kept with a read: the
// name package upload stored it under.
type StoredPhoto struct {
	Name string
}

// ManualRead is a read a user of an account types in for a device.
type ManualRead struct {
	AccountID, UserID, DeviceID int64
	// Black and Colour are the meters typed in; a meter the device does
	// not bill is ignored.
	Black, Colour *int64
	// Photo justifies a meter lower than the last read; nil for none.
	Photo *StoredPhoto
}

// SubmitManualRead records a read typed in on the portal, in one
// transaction: the device's campaign must be open (after its close:
// ErrReadCampaignClosed, or ErrReadCorrectionClosed when a read was
// entered before it; an agent read it: ErrReadByAgent; a device of
// another account or with no campaign: ENOTFOUND), and the read must pass
// billing.CheckManualRead (billing.ErrPhotoRequired for a lower meter
// without a photo…), judged against the same prior reads and history as
// an agent's read (loadPriorReads). The read becomes the period's billing
// read (source manual), replacing the one typed in before for the same
// campaign, which keeps its row, superseded; a lower read with its photo,
// or a jump, waits for the back office's review; the estimates before it
// are regularised. The campaign's state becomes read.
func (s *Store) SubmitManualRead(ctx context.Context, r ManualRead, now time.Time) (BillingRead, error) {
	at := dbTime(now)
	var out BillingRead
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.lockCampaign(ctx, tx, r.AccountID, r.DeviceID); err != nil {
			return err
		}
		e, err := s.meterReadEntry(ctx, tx, r.AccountID, r.DeviceID, at)
		if err != nil {
			return err
		}
		if err := e.refusal(); err != nil {
			return err
		}
		d, err := loadBillingDevice(ctx, tx, e.DeviceID, e.ContractID)
		if err != nil {
			return err
		}
		prior, err := s.loadPriorReads(ctx, tx, e.DeviceID, e.PeriodEnd, at)
		if err != nil {
			return err
		}
		in := billing.ManualRead{Meters: e.Meters, Black: r.Black, Colour: r.Colour, HasPhoto: r.Photo != nil, Terms: d.terms(),
			AfterEstimate: len(prior.estimates) > 0, History: prior.history, Jump: s.billing.Jump, Now: at}
		if prior.anchor != nil {
			last := prior.anchor.Reading()
			in.Last = &last
		}
		v, err := billing.CheckManualRead(in)
		if err != nil {
			return err
		}
		out, err = s.recordManualRead(ctx, tx, e, r, v, prior, at)
		return err
	})
	if err != nil {
		return BillingRead{}, fmt.Errorf("store: meter read of device %d: %w", r.DeviceID, err)
	}
	return out, nil
}

// lockCampaign locks the latest campaign of a device of the account, so
// that two reads typed in at once (or a read and the close) take turns;
// ENOTFOUND when there is none.
func (s *Store) lockCampaign(ctx context.Context, tx *sqlx.Tx, accountID, deviceID int64) error {
	lock := ""
	if s.dialect == schema.Postgres {
		lock = " FOR UPDATE OF c"
	}
	var id int64
	err := tx.GetContext(ctx, &id, tx.Rebind(`SELECT c.id FROM read_campaigns c JOIN devices d ON d.id = c.device_id
WHERE d.account_id = ? AND c.device_id = ? ORDER BY c.period_end DESC LIMIT 1`+lock), accountID, deviceID)
	return notFound(err, "no read campaign for device %d in this account", deviceID)
}

// recordManualRead writes the checked read of e's campaign at at,
// regularises the estimates before it and marks the campaign read.
func (s *Store) recordManualRead(ctx context.Context, tx *sqlx.Tx, e MeterReadEntry, r ManualRead, v billing.Verdict, prior priorReads, at time.Time) (BillingRead, error) {
	if e.Entered != nil {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE billing_reads SET superseded_at = ? WHERE id = ?`), at, e.Entered.ID); err != nil {
			return BillingRead{}, fmt.Errorf("supersede read %d: %w", e.Entered.ID, err)
		}
	}
	b := BillingRead{DeviceID: e.DeviceID, ContractID: e.ContractID, PeriodStart: e.PeriodStart, PeriodEnd: e.PeriodEnd,
		Source: billing.SourceManual, ReadAt: at, Black: v.Meters.Black, Colour: v.Meters.Colour, Total: v.Meters.Total,
		Flags: v.Flags, Review: billing.ReviewNone, SubmittedByUserID: &r.UserID, CreatedAt: at}
	if v.Review() {
		b.Review = billing.ReviewPending
	}
	if r.Photo != nil {
		b.PhotoPath = &r.Photo.Name
	}
	inserted, err := insertBillingRead(ctx, tx, &b)
	if err == nil && !inserted {
		// The period's read is another source's: the campaign should not
		// have been open.
		err = domain.Errorf(domain.ECONFLICT, "the period ending %s has a billing read of source %s", e.PeriodEnd.Format(time.DateOnly), b.Source)
	}
	if err != nil {
		return BillingRead{}, fmt.Errorf("record the read: %w", err)
	}
	if err := applySpread(ctx, tx, prior.estimates, prior.spread(b.Reading()), at); err != nil {
		return BillingRead{}, fmt.Errorf("regularise the estimates before it: %w", err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE read_campaigns SET state = 'read', ended_at = ? WHERE id = ?`), at, e.CampaignID); err != nil {
		return BillingRead{}, fmt.Errorf("mark campaign %d read: %w", e.CampaignID, err)
	}
	return b, nil
}

// ReadAutomation is a request to automate a device's reads (seed 003:
// an appointment with a technician who installs the agent).
type ReadAutomation struct {
	ID        int64
	AccountID int64
	UserID    int64
	DeviceID  int64
	// Address is where the device is; ContactName and ContactPhone whom
	// the technician calls.
	Address      string
	ContactName  string
	ContactPhone string
	// PreferredDate is when the customer would like the call, nil for
	// any time.
	PreferredDate *time.Time
	CreatedAt     time.Time
}

// RequestReadAutomation records a request to automate the reads of a
// device of the account under contract (another account's, or one not
// under contract: ENOTFOUND). The address and the contact are required,
// the preferred date, if any, from today to a year ahead (EINVALID); a
// device with a request still open is ECONFLICT.
func (s *Store) RequestReadAutomation(ctx context.Context, a ReadAutomation) (ReadAutomation, error) {
	a.Address, a.ContactName, a.ContactPhone = strings.TrimSpace(a.Address), strings.TrimSpace(a.ContactName), strings.TrimSpace(a.ContactPhone)
	now := s.now()
	if err := a.check(now); err != nil {
		return ReadAutomation{}, err
	}
	a.CreatedAt = dbTime(now)
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var id int64
		err := tx.GetContext(ctx, &id, tx.Rebind(`SELECT id FROM devices
WHERE id = ? AND account_id = ? AND contract_id IS NOT NULL AND state IN ('active', 'pending_removal')`+s.forUpdate()), a.DeviceID, a.AccountID)
		if err != nil {
			return notFound(err, "device %d is not a device of this account under contract", a.DeviceID)
		}
		var open int
		if err := tx.GetContext(ctx, &open, tx.Rebind(`SELECT count(*) FROM read_automation_requests WHERE device_id = ? AND resolved_at IS NULL`), a.DeviceID); err != nil {
			return err
		}
		if open > 0 {
			return domain.Errorf(domain.ECONFLICT, "the automation of device %d's reads is already requested", a.DeviceID)
		}
		return constraint(tx.GetContext(ctx, &a.ID, tx.Rebind(`INSERT INTO read_automation_requests
(device_id, account_id, user_id, address, contact_name, contact_phone, preferred_date, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`), a.DeviceID, a.AccountID, a.UserID, a.Address, a.ContactName, a.ContactPhone, a.PreferredDate, a.CreatedAt))
	})
	if err != nil {
		return ReadAutomation{}, fmt.Errorf("store: request the automation of device %d's reads: %w", a.DeviceID, err)
	}
	return a, nil
}

func (a *ReadAutomation) check(now time.Time) error {
	switch {
	case a.Address == "":
		return domain.Errorf(domain.EINVALID, "the address is required")
	case a.ContactName == "":
		return domain.Errorf(domain.EINVALID, "the contact's name is required")
	}
	if err := errors.Join(checkText("the address", a.Address, MaxAutomationAddress), checkLine("the contact's name", a.ContactName, MaxAutomationContact),
		checkLine("the phone number", a.ContactPhone, MaxAutomationPhone)); err != nil {
		return err
	}
	if a.PreferredDate != nil {
		d, today := dbDate(*a.PreferredDate), dbDate(now)
		if d.Before(today) || d.After(today.AddDate(1, 0, 0)) {
			return ErrAutomationDate
		}
		a.PreferredDate = &d
	}
	return nil
}

// ReadAutomationRequest is an open request to automate a device's reads,
// as the back office lists it.
type ReadAutomationRequest struct {
	ReadAutomation
	CustomerNumber string
	AccountName    string
	Serial         string
	Model          string
	UserEmail      string
}

// BackOfficeReadAutomations lists the open requests to automate reads,
// oldest first, at most limit (1 to 500; 0 is 50).
func (s *Store) BackOfficeReadAutomations(ctx context.Context, limit int) ([]ReadAutomationRequest, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		ID             int64        `db:"id"`
		AccountID      int64        `db:"account_id"`
		UserID         int64        `db:"user_id"`
		DeviceID       int64        `db:"device_id"`
		Address        string       `db:"address"`
		ContactName    string       `db:"contact_name"`
		ContactPhone   string       `db:"contact_phone"`
		PreferredDate  sql.NullTime `db:"preferred_date"`
		CreatedAt      time.Time    `db:"created_at"`
		CustomerNumber string       `db:"customer_number"`
		AccountName    string       `db:"account_name"`
		Serial         string       `db:"serial"`
		Model          string       `db:"model"`
		UserEmail      string       `db:"user_email"`
	}
	err = s.db.SelectContext(ctx, &rows, s.db.Rebind(`
SELECT r.id, r.account_id, r.user_id, r.device_id, r.address, r.contact_name, r.contact_phone, r.preferred_date, r.created_at,
       a.customer_number, a.name AS account_name, d.serial, d.model, u.email AS user_email
FROM read_automation_requests r
JOIN accounts a ON a.id = r.account_id
JOIN devices d ON d.id = r.device_id
JOIN users u ON u.id = r.user_id
WHERE r.resolved_at IS NULL
ORDER BY r.created_at, r.id LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("store: read-automation requests: %w", err)
	}
	out := make([]ReadAutomationRequest, len(rows))
	for i, r := range rows {
		a := ReadAutomation{ID: r.ID, AccountID: r.AccountID, UserID: r.UserID, DeviceID: r.DeviceID, Address: r.Address,
			ContactName: r.ContactName, ContactPhone: r.ContactPhone, CreatedAt: r.CreatedAt.UTC()}
		if r.PreferredDate.Valid {
			d := dbDate(r.PreferredDate.Time)
			a.PreferredDate = &d
		}
		out[i] = ReadAutomationRequest{ReadAutomation: a, CustomerNumber: r.CustomerNumber, AccountName: r.AccountName,
			Serial: r.Serial, Model: r.Model, UserEmail: r.UserEmail}
	}
	return out, nil
}

// BillingReadPhoto is the name of the photo kept with a billing read, for
// the back office; a read without one is ENOTFOUND.
func (s *Store) BillingReadPhoto(ctx context.Context, readID int64) (string, error) {
	var name sql.NullString
	err := s.db.GetContext(ctx, &name, s.db.Rebind(`SELECT photo_path FROM billing_reads WHERE id = ?`), readID)
	if err == nil && !name.Valid {
		err = sql.ErrNoRows
	}
	if err != nil {
		return "", fmt.Errorf("store: photo of billing read %d: %w", readID, notFound(err, "billing read %d has no photo", readID))
	}
	return name.String, nil
}
