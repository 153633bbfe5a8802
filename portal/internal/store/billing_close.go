package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/shared/domain"
)

// The period close (issue 16): once a period's tolerance window is over,
// every device under contract gets its billing read from its agent, or a
// manual-read campaign; periods missed while the jobs were down are caught
// up, oldest first. It is safe to repeat and to run twice at once: what a
// device and period already have is left alone, each device and period is
// closed in a transaction of its own, and the unique indexes
// (billing_reads_current, read_campaigns (device_id, period_end)) make
// the second of two writers change nothing (ON CONFLICT DO NOTHING).

// CloseReport says what a period close did.
type CloseReport struct {
	// AgentReads are billing reads written from an agent's read.
	AgentReads int
	// Campaigns are manual-read campaigns opened.
	Campaigns int
	// Estimates are billing reads estimated at once: periods caught up
	// that an agent did not read, older than the device's latest period
	// closed (its campaign is the one a customer answers).
	Estimates int
	// Invitations are invitation e-mails queued (one per contact, account
	// and period, listing its devices).
	Invitations int
}

// underContract selects the devices billed: under contract, not removed.
const underContract = `SELECT ` + billingDeviceColumns + `
FROM devices d JOIN contracts c ON c.id = d.contract_id
WHERE d.state IN ('active', 'pending_removal')`

// ClosePeriods closes, as of now, every period of each device under
// contract whose tolerance window is over (billing.Config.Closable gives
// the latest) and that has neither a billing read nor a campaign, oldest
// first: those after the latest period the device has one for, or, for a
// device that never had one, the latest alone (a device put under an old
// contract is not billed for the years before it). The agent read in the
// window nearest a period's end becomes its billing read (source agent);
// failing one, the latest period gets a campaign for the device's
// meter-read contact (else the account's primary user) and the
// invitations go out, linking to baseURL + MeterReadsPath, while an older
// one, caught up after the jobs were down, is estimated at once
// (putEstimate): its campaign would ask today for the meters of a period
// long over, and the read of the latest period's campaign regularises it.
// A device that fails is logged in the error returned, its later periods
// left for the next run; the others are closed all the same.
func (s *Store) ClosePeriods(ctx context.Context, now time.Time, baseURL string) (CloseReport, error) {
	now = dbTime(now)
	var devices []billingDevice
	if err := s.db.SelectContext(ctx, &devices, s.db.Rebind(underContract+` ORDER BY d.id`)); err != nil {
		return CloseReport{}, fmt.Errorf("store: devices under contract: %w", err)
	}
	closed, err := s.latestClosedPeriods(ctx)
	if err != nil {
		return CloseReport{}, err
	}
	var rep CloseReport
	var errs []error
	for _, d := range devices {
		periods := s.periodsToClose(d, closed[d.ID], now)
		for i, p := range periods {
			var did closeOutcome
			err := s.inTx(ctx, func(tx *sqlx.Tx) error {
				var err error
				did, err = s.closeDevice(ctx, tx, d, p, i == len(periods)-1, now)
				return err
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("device %d, period ending %s: %w", d.ID, p.End.Format(time.DateOnly), err))
				break
			}
			switch did {
			case closedByAgent:
				rep.AgentReads++
			case closedByCampaign:
				rep.Campaigns++
			case closedByEstimate:
				rep.Estimates++
			}
		}
	}
	n, err := s.inviteCampaigns(ctx, now, baseURL)
	rep.Invitations = n
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return rep, fmt.Errorf("store: close periods: %w", errors.Join(errs...))
	}
	return rep, nil
}

// periodsToClose are the periods of device d a close at now handles,
// oldest first: those whose window is over after lastClosed (the end of
// the latest period the device has a billing read or a campaign for; zero
// for none), or the latest one alone when it had none.
func (s *Store) periodsToClose(d billingDevice, lastClosed, now time.Time) []billing.Period {
	terms := d.terms()
	latest, ok := s.billing.Closable(terms, now)
	if !ok {
		return nil
	}
	if lastClosed.IsZero() {
		return []billing.Period{latest}
	}
	return terms.Periods(lastClosed.Add(billing.Day), latest.EndsAt())
}

// latestClosedPeriods is, by device, the end of the latest period it has
// a current billing read or a campaign for.
func (s *Store) latestClosedPeriods(ctx context.Context) (map[int64]time.Time, error) {
	var rows []struct {
		DeviceID  int64     `db:"device_id"`
		PeriodEnd time.Time `db:"period_end"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT b.device_id, b.period_end FROM billing_reads b
WHERE b.superseded_at IS NULL
  AND b.period_end = (SELECT max(n.period_end) FROM billing_reads n WHERE n.device_id = b.device_id AND n.superseded_at IS NULL)
UNION ALL
SELECT c.device_id, c.period_end FROM read_campaigns c
WHERE c.period_end = (SELECT max(n.period_end) FROM read_campaigns n WHERE n.device_id = c.device_id)`)
	if err != nil {
		return nil, fmt.Errorf("store: periods closed: %w", err)
	}
	out := make(map[int64]time.Time, len(rows))
	for _, r := range rows {
		if end := dbDate(r.PeriodEnd); end.After(out[r.DeviceID]) {
			out[r.DeviceID] = end
		}
	}
	return out, nil
}

// closeOutcome is what closing a device's period wrote.
type closeOutcome int

const (
	closedNothing closeOutcome = iota // the period had a read or a campaign
	closedByAgent
	closedByCampaign
	closedByEstimate
)

// closeDevice closes period p of device d in tx: an agent read, else a
// campaign when p is the latest period closed (latest), an estimate when
// it is an older one caught up. It says which it wrote; nothing when the
// period had a read or a campaign.
func (s *Store) closeDevice(ctx context.Context, tx *sqlx.Tx, d billingDevice, p billing.Period, latest bool, now time.Time) (closeOutcome, error) {
	var n int
	if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT
    (SELECT COUNT(*) FROM billing_reads WHERE device_id = ? AND period_end = ? AND superseded_at IS NULL) +
    (SELECT COUNT(*) FROM read_campaigns WHERE device_id = ? AND period_end = ?)`),
		d.ID, dbDate(p.End), d.ID, dbDate(p.End)); err != nil {
		return closedNothing, fmt.Errorf("read what the period has: %w", err)
	}
	if n > 0 {
		return closedNothing, nil
	}
	kinds := d.terms().Billed()
	candidates, err := agentCandidates(ctx, tx, d.ID, s.billing.Window, p.EndsAt(), kinds)
	if err != nil {
		return closedNothing, err
	}
	if r, ok := s.billing.Window.Select(candidates, p.EndsAt(), kinds); ok {
		_, inserted, err := s.putRealRead(ctx, tx, d, p, RealRead{Source: billing.SourceAgent, Reading: r.Reading}, now)
		return wrote(inserted, closedByAgent), err
	}
	if !latest {
		_, inserted, err := s.putEstimate(ctx, tx, d, p, now)
		return wrote(inserted, closedByEstimate), err
	}
	inserted, err := s.openCampaign(ctx, tx, d, p, now)
	return wrote(inserted, closedByCampaign), err
}

func wrote(inserted bool, what closeOutcome) closeOutcome {
	if inserted {
		return what
	}
	return closedNothing
}

// openCampaign opens the campaign of device d for period p in tx, for the
// device's meter-read contact, else the account's primary user; false
// when the period has one already.
func (s *Store) openCampaign(ctx context.Context, tx *sqlx.Tx, d billingDevice, p billing.Period, now time.Time) (bool, error) {
	contact := d.ReadContactID
	if contact == nil {
		var primary []int64
		if err := tx.SelectContext(ctx, &primary, tx.Rebind(`SELECT user_id FROM memberships
WHERE account_id = ? AND role = 'primary' ORDER BY created_at, user_id LIMIT 1`), d.AccountID); err != nil {
			return false, fmt.Errorf("read the account's primary user: %w", err)
		}
		if len(primary) > 0 {
			contact = &primary[0]
		}
	}
	// Nobody to invite: no e-mail, and the campaign closes when it would
	// have with every reminder sent on time.
	var closesAt *time.Time
	if contact == nil {
		t := now.Add(s.billing.Lifetime())
		closesAt = &t
	}
	var ids []int64
	err := tx.SelectContext(ctx, &ids, tx.Rebind(`INSERT INTO read_campaigns
(device_id, contract_id, period_start, period_end, contact_user_id, state, closes_at, created_at)
VALUES (?, ?, ?, ?, ?, 'open', ?, ?)
ON CONFLICT (device_id, period_end) DO NOTHING RETURNING id`),
		d.ID, d.ContractID, dbDate(p.Start), dbDate(p.End), contact, closesAt, now)
	if err != nil {
		return false, fmt.Errorf("open the campaign: %w", constraint(err))
	}
	return len(ids) == 1, nil
}

// campaignGroup is the campaigns one e-mail is about: one contact, one
// account, one period.
type campaignGroup struct {
	Contact   int64
	Account   int64
	PeriodEnd int64
}

// campaignJobRow is an open campaign with whom and what account it is for.
type campaignJobRow struct {
	ReadCampaign
	AccountID int64 `db:"account_id"`
}

func (r campaignJobRow) group() campaignGroup {
	return campaignGroup{Contact: *r.ContactUserID, Account: r.AccountID, PeriodEnd: dbDate(r.PeriodEnd).Unix()}
}

// groupCampaigns groups the campaigns by e-mail, in a stable order.
func groupCampaigns(rows []campaignJobRow) ([]campaignGroup, map[campaignGroup][]int64) {
	ids := map[campaignGroup][]int64{}
	var order []campaignGroup
	for _, r := range rows {
		g := r.group()
		if _, ok := ids[g]; !ok {
			order = append(order, g)
		}
		ids[g] = append(ids[g], r.ID)
	}
	return order, ids
}

// inviteCampaigns sends the invitation of every open campaign not yet
// invited that has a contact, one e-mail per contact, account and period.
// Each e-mail's transaction claims its campaigns (invited_at set where it
// was NULL), so two runs at once invite each campaign once.
func (s *Store) inviteCampaigns(ctx context.Context, now time.Time, baseURL string) (int, error) {
	var rows []campaignJobRow
	err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+campaignColumns+`, d.account_id
FROM read_campaigns rc JOIN devices d ON d.id = rc.device_id
WHERE rc.state = 'open' AND rc.invited_at IS NULL AND rc.contact_user_id IS NOT NULL
ORDER BY rc.contact_user_id, d.account_id, rc.period_end, rc.id`))
	if err != nil {
		return 0, fmt.Errorf("store: campaigns to invite for: %w", err)
	}
	order, ids := groupCampaigns(rows)
	sent := 0
	var errs []error
	for _, g := range order {
		err := s.inTx(ctx, func(tx *sqlx.Tx) error {
			claimed, err := claimCampaigns(ctx, tx, `invited_at = ?`, []any{now}, `invited_at IS NULL`, ids[g])
			if err != nil || len(claimed) == 0 {
				return err
			}
			ok, err := s.enqueueCampaignMail(ctx, tx, campaignMail{group: g, ids: claimed, baseURL: baseURL, invitedAt: now})
			if ok {
				sent++
			}
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("invite user %d to read account %d's meters: %w", g.Contact, g.Account, err))
		}
	}
	if len(errs) > 0 {
		return sent, fmt.Errorf("store: invitations: %w", errors.Join(errs...))
	}
	return sent, nil
}

// claimCampaigns updates the open campaigns among ids that still meet
// cond, and returns those it updated, in id order.
func claimCampaigns(ctx context.Context, tx *sqlx.Tx, set string, setArgs []any, cond string, ids []int64) ([]int64, error) {
	q, args, err := sqlx.In(`UPDATE read_campaigns SET `+set+` WHERE id IN (?) AND state = 'open' AND `+cond+` RETURNING id`,
		append(slices.Clone(setArgs), ids)...)
	if err != nil {
		return nil, err
	}
	var claimed []int64
	if err := tx.SelectContext(ctx, &claimed, tx.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("claim campaigns %v: %w", ids, err)
	}
	slices.Sort(claimed)
	return claimed, nil
}

// Meter-read e-mail templates (mail/templates).
const (
	mailReadInvitation = "meter_read_invitation"
	mailReadReminder   = "meter_read_reminder"
)

// campaignMail is one e-mail about campaigns: the invitation (reminder
// 0) or a reminder.
type campaignMail struct {
	group    campaignGroup
	ids      []int64
	reminder int
	baseURL  string
	// invitedAt is when the campaigns were invited (the deadline is
	// reckoned from it); closesAt is set with the third reminder.
	invitedAt time.Time
	closesAt  *time.Time
}

// campaignMailData is what the meter-read e-mails read.
type campaignMailData struct {
	Name           string
	CustomerNumber string
	AccountName    string
	PeriodStart    string
	PeriodEnd      string
	Devices        []campaignMailDevice
	Link           string
	// Reminder is 0 for the invitation, else 1 to 3; Final is the third.
	Reminder int
	Final    bool
	// Deadline is when the campaign closes: exact with the third
	// reminder, with every reminder on time before.
	Deadline string
}

type campaignMailDevice struct {
	Model    string
	Serial   string
	Location string
}

// enqueueCampaignMail queues one e-mail about the campaigns m.ids, in the
// contact's language, keyed by its kind and its first campaign (each
// campaign is invited once and reminded once per number, so the key is
// the e-mail's own).
func (s *Store) enqueueCampaignMail(ctx context.Context, tx *sqlx.Tx, m campaignMail) (bool, error) {
	var who struct {
		Email    string          `db:"email"`
		Name     string          `db:"name"`
		Language domain.Language `db:"language"`
		Number   string          `db:"customer_number"`
		Account  string          `db:"account_name"`
	}
	if err := tx.GetContext(ctx, &who, tx.Rebind(`SELECT u.email, u.name, u.language, a.customer_number, a.name AS account_name
FROM users u, accounts a WHERE u.id = ? AND a.id = ?`), m.group.Contact, m.group.Account); err != nil {
		return false, fmt.Errorf("read the contact and the account: %w", err)
	}
	q, args, err := sqlx.In(`SELECT d.serial, d.model, rc.period_start, rc.period_end,
       COALESCE(l.company, '') AS company, COALESCE(l.street, '') AS street,
       COALESCE(l.postal_code, '') AS postal_code, COALESCE(l.city, '') AS city
FROM read_campaigns rc JOIN devices d ON d.id = rc.device_id
LEFT JOIN shipping_locations l ON l.id = d.location_id
WHERE rc.id IN (?) ORDER BY d.serial, d.id`, m.ids)
	if err != nil {
		return false, err
	}
	var devices []struct {
		Serial      string    `db:"serial"`
		Model       string    `db:"model"`
		PeriodStart time.Time `db:"period_start"`
		PeriodEnd   time.Time `db:"period_end"`
		Company     string    `db:"company"`
		Street      string    `db:"street"`
		PostalCode  string    `db:"postal_code"`
		City        string    `db:"city"`
	}
	if err := tx.SelectContext(ctx, &devices, tx.Rebind(q), args...); err != nil {
		return false, fmt.Errorf("read the campaigns' devices: %w", err)
	}
	if len(devices) == 0 {
		return false, nil
	}
	lang := i18n.Lang(who.Language)
	p := i18n.For(lang)
	deadline := s.campaignDeadline(ReadCampaign{InvitedAt: &m.invitedAt, ClosesAt: m.closesAt})
	data := campaignMailData{
		Name: who.Name, CustomerNumber: who.Number, AccountName: who.Account,
		PeriodStart: p.Date(dbDate(devices[0].PeriodStart)), PeriodEnd: p.Date(dbDate(devices[0].PeriodEnd)),
		Link:     strings.TrimRight(m.baseURL, "/") + MeterReadsPath,
		Reminder: m.reminder, Final: m.reminder == 3,
		Deadline: p.DateTime(deadline, time.UTC),
	}
	if data.Name == "" {
		data.Name = who.Email
	}
	for _, d := range devices {
		var place []string
		for _, part := range []string{d.Company, d.Street, strings.TrimSpace(d.PostalCode + " " + d.City)} {
			if part != "" {
				place = append(place, part)
			}
		}
		data.Devices = append(data.Devices, campaignMailDevice{Model: d.Model, Serial: d.Serial, Location: strings.Join(place, ", ")})
	}
	template, key := mailReadInvitation, "meter-read-invitation:"
	if m.reminder > 0 {
		template, key = mailReadReminder, "meter-read-reminder-"+strconv.Itoa(m.reminder)+":"
	}
	return s.outbox.Enqueue(ctx, tx, mail.Message{
		Key: key + strconv.FormatInt(m.ids[0], 10), To: who.Email, Lang: lang, Template: template, Data: data,
	})
}
