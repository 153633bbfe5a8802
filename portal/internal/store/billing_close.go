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
// manual-read campaign. It is safe to repeat and to run twice at once:
// what a device and period already have is left alone, each device is
// closed in a transaction of its own, and the unique indexes
// (billing_reads_current, read_campaigns (device_id, period_end)) make
// the second of two writers change nothing (ON CONFLICT DO NOTHING).

// CloseReport says what a period close did.
type CloseReport struct {
	// AgentReads are billing reads written from an agent's read.
	AgentReads int
	// Campaigns are manual-read campaigns opened.
	Campaigns int
	// Invitations are invitation e-mails queued (one per contact, account
	// and period, listing its devices).
	Invitations int
}

// underContract selects the devices billed: under contract, not removed.
const underContract = `SELECT ` + billingDeviceColumns + `
FROM devices d JOIN contracts c ON c.id = d.contract_id
WHERE d.state IN ('active', 'pending_removal')`

// ClosePeriods closes, as of now, the latest period of each device under
// contract whose tolerance window is over (billing.Config.Closable) and
// that has neither a billing read nor a campaign: the agent read in the
// window nearest the period end becomes its billing read (source agent);
// failing one, a campaign opens for the device's meter-read contact (else
// the account's primary user) and the invitations go out, linking to
// baseURL + MeterReadsPath. A device that fails is logged in the error
// returned; the others are closed all the same.
func (s *Store) ClosePeriods(ctx context.Context, now time.Time, baseURL string) (CloseReport, error) {
	now = dbTime(now)
	var devices []billingDevice
	if err := s.db.SelectContext(ctx, &devices, s.db.Rebind(underContract+` ORDER BY d.id`)); err != nil {
		return CloseReport{}, fmt.Errorf("store: devices under contract: %w", err)
	}
	type due struct {
		device billingDevice
		period billing.Period
	}
	var todo []due
	var earliest time.Time
	for _, d := range devices {
		p, ok := s.billing.Closable(d.terms(), now)
		if !ok {
			continue
		}
		todo = append(todo, due{d, p})
		if earliest.IsZero() || p.End.Before(earliest) {
			earliest = p.End
		}
	}
	if len(todo) == 0 {
		return s.inviteOnly(ctx, now, baseURL)
	}
	done, err := s.closedPeriods(ctx, earliest)
	if err != nil {
		return CloseReport{}, err
	}
	var rep CloseReport
	var errs []error
	for _, t := range todo {
		if done[periodKey{t.device.ID, t.period.End.Unix()}] {
			continue
		}
		var agent, campaign bool
		err := s.inTx(ctx, func(tx *sqlx.Tx) error {
			var err error
			agent, campaign, err = s.closeDevice(ctx, tx, t.device, t.period, now)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("device %d, period ending %s: %w", t.device.ID, t.period.End.Format(time.DateOnly), err))
			continue
		}
		if agent {
			rep.AgentReads++
		}
		if campaign {
			rep.Campaigns++
		}
	}
	inv, err := s.inviteOnly(ctx, now, baseURL)
	rep.Invitations = inv.Invitations
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return rep, fmt.Errorf("store: close periods: %w", errors.Join(errs...))
	}
	return rep, nil
}

// inviteOnly sends the invitations due and reports them.
func (s *Store) inviteOnly(ctx context.Context, now time.Time, baseURL string) (CloseReport, error) {
	n, err := s.inviteCampaigns(ctx, now, baseURL)
	return CloseReport{Invitations: n}, err
}

type periodKey struct {
	device int64
	end    int64 // period_end, Unix seconds
}

// closedPeriods are the (device, period end) pairs from earliest on that
// have a current billing read or a campaign.
func (s *Store) closedPeriods(ctx context.Context, earliest time.Time) (map[periodKey]bool, error) {
	var rows []struct {
		DeviceID  int64     `db:"device_id"`
		PeriodEnd time.Time `db:"period_end"`
	}
	err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT device_id, period_end FROM billing_reads WHERE period_end >= ? AND superseded_at IS NULL
UNION SELECT device_id, period_end FROM read_campaigns WHERE period_end >= ?`), dbDate(earliest), dbDate(earliest))
	if err != nil {
		return nil, fmt.Errorf("store: periods closed: %w", err)
	}
	out := make(map[periodKey]bool, len(rows))
	for _, r := range rows {
		out[periodKey{r.DeviceID, dbDate(r.PeriodEnd).Unix()}] = true
	}
	return out, nil
}

// closeDevice closes period p of device d in tx: an agent read, else a
// campaign. It reports which it wrote; neither when the period had one.
func (s *Store) closeDevice(ctx context.Context, tx *sqlx.Tx, d billingDevice, p billing.Period, now time.Time) (agent, campaign bool, err error) {
	var n int
	if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT
    (SELECT COUNT(*) FROM billing_reads WHERE device_id = ? AND period_end = ? AND superseded_at IS NULL) +
    (SELECT COUNT(*) FROM read_campaigns WHERE device_id = ? AND period_end = ?)`),
		d.ID, dbDate(p.End), d.ID, dbDate(p.End)); err != nil {
		return false, false, fmt.Errorf("read what the period has: %w", err)
	}
	if n > 0 {
		return false, false, nil
	}
	kinds := d.terms().Billed()
	candidates, err := agentCandidates(ctx, tx, d.ID, s.billing.Window, p.EndsAt(), kinds)
	if err != nil {
		return false, false, err
	}
	if r, ok := s.billing.Window.Select(candidates, p.EndsAt(), kinds); ok {
		_, inserted, err := s.putRealRead(ctx, tx, d, p, RealRead{Source: billing.SourceAgent, Reading: r.Reading}, now)
		return inserted, false, err
	}
	contact := d.ReadContactID
	if contact == nil {
		var primary []int64
		if err := tx.SelectContext(ctx, &primary, tx.Rebind(`SELECT user_id FROM memberships
WHERE account_id = ? AND role = 'primary' ORDER BY created_at, user_id LIMIT 1`), d.AccountID); err != nil {
			return false, false, fmt.Errorf("read the account's primary user: %w", err)
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
	err = tx.SelectContext(ctx, &ids, tx.Rebind(`INSERT INTO read_campaigns
(device_id, contract_id, period_start, period_end, contact_user_id, state, closes_at, created_at)
VALUES (?, ?, ?, ?, ?, 'open', ?, ?)
ON CONFLICT (device_id, period_end) DO NOTHING RETURNING id`),
		d.ID, d.ContractID, dbDate(p.Start), dbDate(p.End), contact, closesAt, now)
	if err != nil {
		return false, false, fmt.Errorf("open the campaign: %w", constraint(err))
	}
	return false, len(ids) == 1, nil
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
	deadline := m.invitedAt.Add(s.billing.Lifetime())
	if m.closesAt != nil {
		deadline = *m.closesAt
	}
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
