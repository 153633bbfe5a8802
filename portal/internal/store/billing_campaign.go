package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/billing"
)

// The manual-read campaigns' job (issue 16, seed 003): a campaign ends as
// soon as its period has a read (an agent's in the window: the device
// leaves the campaign, no more e-mails), closes with an estimate when its
// time has come, and otherwise gets its reminders. Like the close, it is
// safe to repeat and to run twice at once: every step is a conditional
// update of the campaign (state still open, reminders still n−1) in the
// transaction that does the step's work.

// CampaignReport says what a campaign run did.
type CampaignReport struct {
	// Agent are campaigns left because an agent read the device in the
	// window; Read are those that found a read already entered.
	Agent, Read int
	// Closed are campaigns closed with an estimated billing read.
	Closed int
	// Reminders are reminder e-mails queued (one per contact, account,
	// period and reminder number).
	Reminders int
}

// RunCampaigns runs the open campaigns as of now, each period of a device
// in turn, oldest first: ends those whose period has a read, closes with
// an estimate those past their closing time and those of a device whose
// later period has a read or a campaign already (after the jobs were down:
// a customer answers the device's latest campaign only), and sends the
// reminders due (billing.Config.ReminderDue), the third setting the
// closing time 48 hours on (billing.Config.CloseAfter). Links go to
// baseURL + MeterReadsPath.
func (s *Store) RunCampaigns(ctx context.Context, now time.Time, baseURL string) (CampaignReport, error) {
	now = dbTime(now)
	if err := s.setCorrectionDeadlines(ctx); err != nil {
		return CampaignReport{}, err
	}
	var open []campaignJobRow
	err := s.db.SelectContext(ctx, &open, s.db.Rebind(`SELECT `+campaignColumns+`, d.account_id
FROM read_campaigns rc JOIN devices d ON d.id = rc.device_id
WHERE rc.state = 'open' ORDER BY rc.period_end, rc.id`))
	if err != nil {
		return CampaignReport{}, fmt.Errorf("store: open campaigns: %w", err)
	}
	var rep CampaignReport
	var errs []error
	var stillOpen []campaignJobRow
	for _, c := range open {
		c.utc()
		var outcome string
		err := s.inTx(ctx, func(tx *sqlx.Tx) error {
			var err error
			outcome, err = s.settleCampaign(ctx, tx, c.ReadCampaign, now)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("campaign %d: %w", c.ID, err))
			continue
		}
		switch outcome {
		case CampaignAgent:
			rep.Agent++
		case CampaignRead:
			rep.Read++
		case CampaignClosed:
			rep.Closed++
		case CampaignOpen:
			stillOpen = append(stillOpen, c)
		}
	}
	n, err := s.remind(ctx, stillOpen, now, baseURL)
	rep.Reminders = n
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return rep, fmt.Errorf("store: campaigns: %w", errors.Join(errs...))
	}
	return rep, nil
}

// setCorrectionDeadlines gives a campaign whose read was typed in before
// its third reminder the closing time it would have had with every
// reminder on time: the read may be corrected until then
// (MeterReadEntry.Open), as seed 003's portal takes reads until the
// campaign closes.
func (s *Store) setCorrectionDeadlines(ctx context.Context) error {
	var rows []ReadCampaign
	err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+campaignColumns+` FROM read_campaigns rc
WHERE rc.state = 'read' AND rc.closes_at IS NULL`))
	if err != nil {
		return fmt.Errorf("store: campaigns read without a closing time: %w", err)
	}
	for _, c := range rows {
		c.utc()
		if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE read_campaigns SET closes_at = ? WHERE id = ? AND closes_at IS NULL`),
			dbTime(s.campaignDeadline(c)), c.ID); err != nil {
			return fmt.Errorf("store: closing time of campaign %d: %w", c.ID, err)
		}
	}
	return nil
}

// settleCampaign ends campaign c in tx when it is over and says how it
// stands: CampaignOpen when it goes on; "" when another run ended it
// first.
func (s *Store) settleCampaign(ctx context.Context, tx *sqlx.Tx, c ReadCampaign, now time.Time) (string, error) {
	var state string
	err := tx.GetContext(ctx, &state, tx.Rebind(`SELECT state FROM read_campaigns WHERE id = ?`+s.forUpdate()), c.ID)
	if err != nil {
		return "", fmt.Errorf("lock the campaign: %w", err)
	}
	if state != CampaignOpen {
		return "", nil
	}
	d, err := loadBillingDevice(ctx, tx, c.DeviceID, c.ContractID)
	if err != nil {
		return "", err
	}
	p := c.Period()
	// A read already there (entered, or written by another path): the
	// campaign ends with it.
	var source string
	switch err := tx.GetContext(ctx, &source, tx.Rebind(`SELECT source FROM billing_reads
WHERE device_id = ? AND period_end = ? AND superseded_at IS NULL`), d.ID, dbDate(p.End)); {
	case err == nil:
		end := map[string]string{billing.SourceAgent: CampaignAgent, billing.SourceManual: CampaignRead, billing.SourceEstimated: CampaignClosed}[source]
		return end, endCampaign(ctx, tx, c.ID, end, now)
	case !errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("read the period's billing read: %w", err)
	}
	kinds := d.terms().Billed()
	candidates, err := agentCandidates(ctx, tx, d.ID, s.billing.Window, p.EndsAt(), kinds)
	if err != nil {
		return "", err
	}
	if r, ok := s.billing.Window.Select(candidates, p.EndsAt(), kinds); ok {
		if err := endCampaign(ctx, tx, c.ID, CampaignAgent, now); err != nil {
			return "", err
		}
		_, _, err := s.putRealRead(ctx, tx, d, p, RealRead{Source: billing.SourceAgent, Reading: r.Reading}, now)
		return CampaignAgent, err
	}
	// A later period of the device has a read or a campaign (the jobs were
	// down): this campaign can take no read any more (the meter-read page
	// and SubmitManualRead deal with the device's latest), so it closes
	// now with an estimate, which the next real read regularises.
	later, err := laterPeriodClosed(ctx, tx, d.ID, p.End)
	if err != nil {
		return "", err
	}
	if later || (c.ClosesAt != nil && !now.Before(*c.ClosesAt)) {
		if err := endCampaign(ctx, tx, c.ID, CampaignClosed, now); err != nil {
			return "", err
		}
		_, _, err := s.putEstimate(ctx, tx, d, p, now)
		return CampaignClosed, err
	}
	return CampaignOpen, nil
}

// laterPeriodClosed reports whether the device has a current billing read
// or a campaign for a period ending after periodEnd.
func laterPeriodClosed(ctx context.Context, tx *sqlx.Tx, deviceID int64, periodEnd time.Time) (bool, error) {
	var n int
	err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT
    (SELECT COUNT(*) FROM billing_reads WHERE device_id = ? AND period_end > ? AND superseded_at IS NULL) +
    (SELECT COUNT(*) FROM read_campaigns WHERE device_id = ? AND period_end > ?)`),
		deviceID, dbDate(periodEnd), deviceID, dbDate(periodEnd))
	if err != nil {
		return false, fmt.Errorf("read the device's later periods: %w", err)
	}
	return n > 0, nil
}

// endCampaign ends an open campaign in state.
func endCampaign(ctx context.Context, tx *sqlx.Tx, id int64, state string, now time.Time) error {
	_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE read_campaigns SET state = ?, ended_at = ? WHERE id = ? AND state = 'open'`), state, now, id)
	if err != nil {
		return fmt.Errorf("end campaign %d (%s): %w", id, state, err)
	}
	return nil
}

// remind sends the reminders due among the open campaigns, one e-mail per
// contact, account, period and reminder number.
func (s *Store) remind(ctx context.Context, open []campaignJobRow, now time.Time, baseURL string) (int, error) {
	type reminderGroup struct {
		campaignGroup
		n int
	}
	byGroup := map[reminderGroup][]campaignJobRow{}
	var order []reminderGroup
	for _, c := range open {
		if c.ContactUserID == nil || c.InvitedAt == nil || c.Reminders >= 3 {
			continue
		}
		n := c.Reminders + 1
		var previous time.Time
		if c.LastReminderAt != nil {
			previous = *c.LastReminderAt
		}
		if !s.billing.ReminderDue(n, *c.InvitedAt, previous, now) {
			continue
		}
		g := reminderGroup{c.group(), n}
		if _, ok := byGroup[g]; !ok {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], c)
	}
	sent := 0
	var errs []error
	for _, g := range order {
		cs := byGroup[g]
		ids := make([]int64, len(cs))
		for i, c := range cs {
			ids[i] = c.ID
		}
		var closesAt *time.Time
		set, args := `reminders = ?, last_reminder_at = ?`, []any{g.n, now}
		if g.n == 3 {
			t := s.billing.ClosesAt(now)
			closesAt = &t
			set, args = set+`, closes_at = ?`, append(args, t)
		}
		err := s.inTx(ctx, func(tx *sqlx.Tx) error {
			claimed, err := claimCampaigns(ctx, tx, set, args, `reminders = `+strconv.Itoa(g.n-1), ids)
			if err != nil || len(claimed) == 0 {
				return err
			}
			ok, err := s.enqueueCampaignMail(ctx, tx, campaignMail{group: g.campaignGroup, ids: claimed, reminder: g.n,
				baseURL: baseURL, invitedAt: *cs[0].InvitedAt, closesAt: closesAt})
			if ok {
				sent++
			}
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("reminder %d to user %d: %w", g.n, g.Contact, err))
		}
	}
	if len(errs) > 0 {
		return sent, fmt.Errorf("store: reminders: %w", errors.Join(errs...))
	}
	return sent, nil
}
