package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/shared/domain"
)

// billingDevice is a device under contract with the terms billing reads
// of its contract.
type billingDevice struct {
	ID            int64                `db:"id"`
	AccountID     int64                `db:"account_id"`
	Serial        string               `db:"serial"`
	Model         string               `db:"model"`
	ReadContactID *int64               `db:"read_contact_id"`
	ContractID    int64                `db:"contract_id"`
	BillingPeriod domain.BillingPeriod `db:"billing_period"`
	BillsBlack    bool                 `db:"bills_black"`
	BillsColour   bool                 `db:"bills_colour"`
	BillsTotal    bool                 `db:"bills_total"`
	Start         time.Time            `db:"start_date"`
	End           *time.Time           `db:"end_date"`
	// Volume is the contract's expected monthly volume: all its devices'
	// together.
	Volume int64 `db:"expected_monthly_volume"`
}

// billingDeviceColumns read a billingDevice from devices d and contracts c.
const billingDeviceColumns = `d.id, d.account_id, d.serial, d.model, d.read_contact_id, c.id AS contract_id, c.billing_period,
    c.bills_black, c.bills_colour, c.bills_total, c.start_date, c.end_date, c.expected_monthly_volume`

// terms are the contract's terms for this device (the expected volume is
// the whole contract's: billing.Config.Estimate shares it out).
func (d billingDevice) terms() billing.Terms {
	t := billing.Terms{Period: d.BillingPeriod, Start: dbDate(d.Start), BillsBlack: d.BillsBlack, BillsColour: d.BillsColour,
		BillsTotal: d.BillsTotal, ExpectedMonthlyVolume: d.Volume}
	if d.End != nil {
		e := dbDate(*d.End)
		t.End = &e
	}
	return t
}

// loadBillingDevice reads device deviceID with the terms of contract
// contractID (a campaign's).
func loadBillingDevice(ctx context.Context, q sqlx.ExtContext, deviceID, contractID int64) (billingDevice, error) {
	var d billingDevice
	err := sqlx.GetContext(ctx, q, &d, q.Rebind(`SELECT `+billingDeviceColumns+` FROM devices d, contracts c WHERE d.id = ? AND c.id = ?`),
		deviceID, contractID)
	if err != nil {
		return billingDevice{}, fmt.Errorf("read device %d and contract %d: %w", deviceID, contractID, err)
	}
	return d, nil
}

// meterColumn is the column of meter_reads and billing_reads holding a
// billing meter: the kinds are billing.Kinds, each a column name.
func meterColumn(k domain.CounterKind) string { return string(k) }

// meterRow is a read's time and billing meters.
type meterRow struct {
	At     time.Time `db:"read_at"`
	Black  *int64    `db:"black"`
	Colour *int64    `db:"colour"`
	Total  *int64    `db:"total"`
}

func (r meterRow) reading() billing.Reading {
	return billing.Reading{At: r.At.UTC(), Meters: billing.MeterValues{Black: r.Black, Colour: r.Colour, Total: r.Total}}
}

// hasBilled is the SQL condition of a meter_reads row m having one of the
// meters billed.
func hasBilled(kinds []domain.CounterKind) string {
	conds := make([]string, len(kinds))
	for i, k := range kinds {
		conds[i] = "m." + meterColumn(k) + " IS NOT NULL"
	}
	return "(" + strings.Join(conds, " OR ") + ")"
}

// agentCandidates returns the agent reads a period ending at end may be
// billed on: the latest read on time at or before end and the earliest
// after it, each in the window and with a billed meter (index: the
// primary key of meter_reads). billing.Window.Select picks between them.
func agentCandidates(ctx context.Context, q sqlx.ExtContext, deviceID int64, w billing.Window, end time.Time, kinds []domain.CounterKind) ([]billing.AgentRead, error) {
	from, to := w.Bounds(end)
	sides := []struct {
		cond     string
		from, to time.Time
	}{
		{`m.read_at >= ? AND m.read_at <= ? ORDER BY m.read_at DESC`, from, end},
		{`m.read_at > ? AND m.read_at <= ? ORDER BY m.read_at`, end, to},
	}
	var out []billing.AgentRead
	for _, side := range sides {
		var rows []meterRow
		err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(`SELECT m.read_at, m.black, m.colour, m.total FROM meter_reads m
WHERE m.device_id = ? AND NOT m.clock_ahead AND `+hasBilled(kinds)+` AND `+side.cond+` LIMIT 1`), deviceID, dbTime(side.from), dbTime(side.to))
		if err != nil {
			return nil, fmt.Errorf("agent reads of device %d near %s: %w", deviceID, end.Format(time.DateOnly), err)
		}
		for _, r := range rows {
			out = append(out, billing.AgentRead{Reading: r.reading()})
		}
	}
	return out, nil
}

// loadHistory reads what billing needs of a device's history over
// [from, to], sparsely: usage between two reads with no reset recorded
// between them is the later value minus the earlier (the collector
// records every fall as a reset), so the points that matter are the first
// and last agent reads of the range, the reads on either side of each
// mark, the two reads of every recorded reset, the device's real billing
// reads, not rejected (few; an agent's is one of its reads, a person's
// has no reset recorded between them), and its opening reads. Agent reads
// stamped ahead are left out, as the collector leaves them out of usage.
func loadHistory(ctx context.Context, q sqlx.ExtContext, deviceID int64, from, to time.Time, marks ...time.Time) (billing.History, error) {
	from, to = dbTime(from), dbTime(to)
	var reads []billing.Reading
	one := func(cond string, args ...any) error {
		var rows []meterRow
		err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(`SELECT m.read_at, m.black, m.colour, m.total FROM meter_reads m
WHERE m.device_id = ? AND NOT m.clock_ahead AND m.read_at >= ? AND m.read_at <= ? AND `+cond+` LIMIT 1`),
			append([]any{deviceID, from, to}, args...)...)
		for _, r := range rows {
			reads = append(reads, r.reading())
		}
		return err
	}
	if err := one(`1 = 1 ORDER BY m.read_at`); err != nil {
		return billing.History{}, fmt.Errorf("first read of device %d: %w", deviceID, err)
	}
	if err := one(`1 = 1 ORDER BY m.read_at DESC`); err != nil {
		return billing.History{}, fmt.Errorf("last read of device %d: %w", deviceID, err)
	}
	for _, m := range marks {
		m = dbTime(m)
		if err := one(`m.read_at <= ? ORDER BY m.read_at DESC`, m); err != nil {
			return billing.History{}, fmt.Errorf("read of device %d before %s: %w", deviceID, m, err)
		}
		if err := one(`m.read_at >= ? ORDER BY m.read_at`, m); err != nil {
			return billing.History{}, fmt.Errorf("read of device %d after %s: %w", deviceID, m, err)
		}
	}
	var resets []struct {
		Kind          string    `db:"kind"`
		PreviousValue int64     `db:"previous_value"`
		PreviousAt    time.Time `db:"previous_read_at"`
		Value         int64     `db:"value"`
		At            time.Time `db:"read_at"`
	}
	err := sqlx.SelectContext(ctx, q, &resets, q.Rebind(`SELECT kind, previous_value, previous_read_at, value, read_at FROM counter_resets
WHERE device_id = ? AND read_at >= ? AND read_at <= ? AND kind IN ('black', 'colour', 'total') ORDER BY read_at`), deviceID, from, to)
	if err != nil {
		return billing.History{}, fmt.Errorf("counter resets of device %d: %w", deviceID, err)
	}
	resetAt := map[domain.CounterKind][]time.Time{}
	for _, r := range resets {
		k := domain.CounterKind(r.Kind)
		resetAt[k] = append(resetAt[k], r.At.UTC())
		var before, after billing.MeterValues
		before.Set(k, r.PreviousValue)
		after.Set(k, r.Value)
		reads = append(reads, billing.Reading{At: r.PreviousAt.UTC(), Meters: before}, billing.Reading{At: r.At.UTC(), Meters: after})
	}
	var realReads []meterRow
	err = sqlx.SelectContext(ctx, q, &realReads, q.Rebind(`SELECT b.read_at, b.black, b.colour, b.total FROM billing_reads b
WHERE b.device_id = ? AND b.source <> 'estimated' AND `+billedNotRejected+` AND b.read_at >= ? AND b.read_at <= ?
UNION ALL
SELECT o.read_at, o.black, o.colour, o.total FROM opening_reads o
WHERE o.device_id = ? AND o.read_at >= ? AND o.read_at <= ?`), deviceID, from, to, deviceID, from, to)
	if err != nil {
		return billing.History{}, fmt.Errorf("real billing and opening reads of device %d: %w", deviceID, err)
	}
	for _, r := range realReads {
		reads = append(reads, r.reading())
	}
	return billing.NewHistory(mergeSameTime(reads), resetAt), nil
}

// mergeSameTime merges reads of one time into one (a reset's point and an
// agent read are the same read): NewHistory keeps one point per time and
// meter, the first.
func mergeSameTime(reads []billing.Reading) []billing.Reading {
	byTime := map[int64]int{}
	var out []billing.Reading
	for _, r := range reads {
		key := r.At.UnixMicro()
		i, ok := byTime[key]
		if !ok {
			byTime[key] = len(out)
			out = append(out, r)
			continue
		}
		for _, k := range billing.Kinds {
			if _, has := out[i].Meters.Get(k); !has {
				if v, ok := r.Meters.Get(k); ok {
					out[i].Meters.Set(k, v)
				}
			}
		}
	}
	return out
}

// currentReadsBefore lists the device's current billing reads of periods
// ending before periodEnd, latest first, down to the latest real one: the
// estimates a real read would regularise, then their anchor. A rejected
// read is left out: the back office said its values are not the device's
// (loadHistory leaves it out too).
func currentReadsBefore(ctx context.Context, q sqlx.ExtContext, deviceID int64, periodEnd time.Time) ([]BillingRead, error) {
	// Estimates in a row are few: a device unread for years is a handful
	// of periods; the limit keeps a pathological one cheap.
	out, err := selectBillingReads(ctx, q, `SELECT `+billingReadColumns+` FROM billing_reads b
WHERE b.device_id = ? AND b.period_end < ? AND `+billedNotRejected+`
ORDER BY b.period_end DESC LIMIT 24`, deviceID, dbDate(periodEnd))
	if err != nil {
		return nil, fmt.Errorf("billing reads of device %d before %s: %w", deviceID, periodEnd.Format(time.DateOnly), err)
	}
	for i := range out {
		if !out[i].Estimated() {
			return out[:i+1], nil
		}
	}
	return out, nil
}

// RealRead is a read to bill a period on: an agent's, or one a user
// entered (Source billing.SourceManual, UserID set).
type RealRead struct {
	Source  string
	Reading billing.Reading
	UserID  *int64
	// PhotoPath is where the photo of the counters is kept, if one came.
	PhotoPath *string
	// Flags are the caller's (billing.FlagPhoto…); putRealRead adds those
	// it finds (counter reset, jump, lower, regularises).
	Flags billing.Flags
}

// putRealRead writes r as the device's billing read of period p, in tx,
// unless the period has one already (then it returns that read and
// false). The meters kept are those the contract bills. Its flags:
//
//   - counter_reset when a reset of a billed meter was recorded since the
//     previous billing read;
//   - jump when the usage since the last real billing read is one
//     (billing.JumpRule.IsJump, as for a read typed in);
//   - regularises when the previous billing read is an estimate: the
//     estimates since the last real billing read are superseded by their
//     re-spread values (billing.Regularise; source estimated, method
//     spread, their own flags and review);
//   - lower_than_previous when a meter is below the previous billing read
//     (after regularisation) with no reset between.
//
// A jump or a lower read waits for review (review pending).
func (s *Store) putRealRead(ctx context.Context, tx *sqlx.Tx, d billingDevice, p billing.Period, r RealRead, now time.Time) (BillingRead, bool, error) {
	terms := d.terms()
	kinds := terms.Billed()
	cur := billing.Reading{At: dbTime(r.Reading.At), Meters: r.Reading.Meters.Only(terms)}
	prior, err := s.loadPriorReads(ctx, tx, d.ID, p.End, cur.At)
	if err != nil {
		return BillingRead{}, false, err
	}
	h := prior.history
	flags := r.Flags
	if prior.prev != nil && h.AnyResetIn(kinds, prior.prev.ReadAt, cur.At) {
		flags = flags.With(billing.FlagCounterReset)
	}
	if prior.anchor != nil && s.billing.Jump.IsJump(prior.anchor.Reading(), cur, kinds, h) {
		flags = flags.With(billing.FlagJump)
	}
	spread := prior.spread(cur)
	if len(prior.estimates) > 0 {
		flags = flags.With(billing.FlagRegularises)
	}
	if prior.prev != nil {
		previous := prior.prev.Reading()
		if len(spread) > 0 {
			previous = spread[len(spread)-1]
		}
		if len(billing.Lower(previous, cur, kinds, h)) > 0 {
			flags = flags.With(billing.FlagLowerThanPrevious)
		}
	}
	b := BillingRead{DeviceID: d.ID, ContractID: d.ContractID, PeriodStart: p.Start, PeriodEnd: p.End, Source: r.Source,
		ReadAt: cur.At, Black: cur.Meters.Black, Colour: cur.Meters.Colour, Total: cur.Meters.Total,
		Flags: flags, PhotoPath: r.PhotoPath, Review: billing.ReviewNone, SubmittedByUserID: r.UserID, CreatedAt: dbTime(now)}
	if flags.NeedsReview() {
		b.Review = billing.ReviewPending
	}
	inserted, err := insertBillingRead(ctx, tx, &b)
	if err != nil || !inserted {
		return b, false, err
	}
	return b, true, applySpread(ctx, tx, prior.estimates, spread, now)
}

// priorReads are what a real read of a period is judged and regularised
// by, an agent's (putRealRead) or one typed in (SubmitManualRead): the
// device's current billing reads before the period, and its history.
type priorReads struct {
	// prev is the latest billing read, anchor the latest real one (with
	// none, the device's opening read: a read lower than it needs a photo
	// too, and the estimates after it are regularised from it), and
	// estimates the estimates in between, oldest first.
	prev, anchor *BillingRead
	estimates    []BillingRead
	// history is the device's real reads up to the new read, enough of
	// them for the usage since the anchor and the usual usage before it
	// (billing.JumpRule).
	history billing.History
}

// loadPriorReads reads the prior reads of a read at at of the period
// ending periodEnd.
func (s *Store) loadPriorReads(ctx context.Context, tx *sqlx.Tx, deviceID int64, periodEnd, at time.Time) (priorReads, error) {
	var p priorReads
	before, err := currentReadsBefore(ctx, tx, deviceID, periodEnd)
	if err != nil {
		return p, err
	}
	for i := range before {
		if i == 0 {
			p.prev = &before[0]
		}
		if before[i].Estimated() {
			p.estimates = append([]BillingRead{before[i]}, p.estimates...)
		} else {
			p.anchor = &before[i]
		}
	}
	if p.anchor == nil {
		if p.anchor, err = lastOpeningRead(ctx, tx, deviceID, at); err != nil {
			return p, err
		}
	}
	var marks []time.Time
	if p.anchor != nil {
		marks = append(marks, p.anchor.ReadAt.Add(-s.billing.Jump.History), p.anchor.ReadAt)
	}
	if p.prev != nil {
		marks = append(marks, p.prev.ReadAt)
	}
	// From the first read on: the usual usage reaches back to the read
	// before the jump rule's history (the mark's read before it).
	p.history, err = loadHistory(ctx, tx, deviceID, time.Time{}, at, marks...)
	return p, err
}

// spread is what the estimates become once the real read cur follows
// them (billing.Regularise); nil without estimates or an anchor.
func (p priorReads) spread(cur billing.Reading) []billing.Reading {
	if len(p.estimates) == 0 || p.anchor == nil {
		return nil
	}
	return billing.Regularise(p.anchor.Reading(), readings(p.estimates), cur, p.history)
}

func readings(bs []BillingRead) []billing.Reading {
	out := make([]billing.Reading, len(bs))
	for i, b := range bs {
		out[i] = b.Reading()
	}
	return out
}

// applySpread supersedes each estimate by its re-spread meters.
func applySpread(ctx context.Context, tx *sqlx.Tx, estimates []BillingRead, spread []billing.Reading, now time.Time) error {
	for i, e := range estimates {
		if i >= len(spread) {
			break
		}
		if err := supersede(ctx, tx, e, spread[i].Meters, now); err != nil {
			return err
		}
	}
	return nil
}

// supersede replaces the estimate e by its re-spread meters: e keeps its
// row, superseded; the new row is the period's current read.
func supersede(ctx context.Context, tx *sqlx.Tx, e BillingRead, m billing.MeterValues, now time.Time) error {
	res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE billing_reads SET superseded_at = ? WHERE id = ? AND superseded_at IS NULL`), dbTime(now), e.ID)
	if err != nil {
		return fmt.Errorf("supersede billing read %d: %w", e.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("supersede billing read %d: %d rows, %w", e.ID, n, errors.Join(err, domain.Errorf(domain.ECONFLICT, "billing read %d was replaced meanwhile", e.ID)))
	}
	n := e
	n.ID, n.Black, n.Colour, n.Total, n.Method, n.CreatedAt, n.SupersededAt = 0, m.Black, m.Colour, m.Total, billing.MethodSpread, dbTime(now), nil
	inserted, err := insertBillingRead(ctx, tx, &n)
	if err == nil && !inserted {
		err = domain.Errorf(domain.ECONFLICT, "the period of billing read %d has another current read", e.ID)
	}
	return err
}

// insertBillingRead inserts b as the current read of its device and
// period, and sets its id; false when the period has a current read
// already (b is then that read).
func insertBillingRead(ctx context.Context, tx *sqlx.Tx, b *BillingRead) (bool, error) {
	var ids []int64
	err := tx.SelectContext(ctx, &ids, tx.Rebind(`INSERT INTO billing_reads
(device_id, contract_id, period_start, period_end, source, read_at, black, colour, total, method, flags, photo_path, review, submitted_by_user_id, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (device_id, period_end) WHERE superseded_at IS NULL DO NOTHING
RETURNING id`),
		b.DeviceID, b.ContractID, dbDate(b.PeriodStart), dbDate(b.PeriodEnd), b.Source, dbTime(b.ReadAt), b.Black, b.Colour, b.Total,
		b.Method, b.Flags, b.PhotoPath, b.Review, b.SubmittedByUserID, dbTime(b.CreatedAt))
	if err != nil {
		return false, fmt.Errorf("insert the billing read of device %d for %s: %w", b.DeviceID, b.PeriodEnd.Format(time.DateOnly), constraint(err))
	}
	if len(ids) == 0 {
		cur, err := getBillingRead(ctx, tx, `SELECT `+billingReadColumns+` FROM billing_reads b
WHERE b.device_id = ? AND b.period_end = ? AND b.superseded_at IS NULL`, b.DeviceID, dbDate(b.PeriodEnd))
		if err != nil {
			return false, fmt.Errorf("read the billing read of device %d for %s: %w", b.DeviceID, b.PeriodEnd.Format(time.DateOnly), err)
		}
		*b = cur
		return false, nil
	}
	b.ID = ids[0]
	return true, nil
}

// putEstimate writes the estimated billing read of the device for period
// p, in tx, unless the period has a read already (then it returns that
// read and false). The estimate is billing.Config.Estimate's at the
// period's end, from the last billing read and the device's whole history
// (reads after the end included: an agent back online interpolates), and,
// when that history is too short, the real reads of the contract's other
// devices (contractPeers). With nothing to start from, the read has no
// meters, method no_base, and waits for review. counter_reset flags a
// reset since the last billing read; repeated_estimate an estimate one
// too many in a row (billing.Config.RepeatedEstimate), which waits for
// review too.
func (s *Store) putEstimate(ctx context.Context, tx *sqlx.Tx, d billingDevice, p billing.Period, now time.Time) (BillingRead, bool, error) {
	terms := d.terms()
	end := p.EndsAt()
	var last *billing.Reading
	var marks []time.Time
	// afterEstimate: the last billing read is an estimate, so this one
	// may make one too many in a row.
	afterEstimate := false
	lb, err := lastBillingRead(ctx, tx, d.ID, p.End)
	switch {
	case err == nil:
		r := lb.Reading()
		last, afterEstimate = &r, lb.Estimated()
		marks = append(marks, lb.ReadAt)
	case !errors.Is(err, sql.ErrNoRows):
		return BillingRead{}, false, fmt.Errorf("last billing read of device %d: %w", d.ID, err)
	}
	h, err := loadHistory(ctx, tx, d.ID, time.Time{}, now, append(marks, end)...)
	if err != nil {
		return BillingRead{}, false, err
	}
	b := BillingRead{DeviceID: d.ID, ContractID: d.ContractID, PeriodStart: p.Start, PeriodEnd: p.End, Source: billing.SourceEstimated,
		ReadAt: end, Review: billing.ReviewNone, CreatedAt: dbTime(now)}
	est, err := s.billing.Estimate(terms, end, last, h, contractPeers(ctx, tx, d, now))
	switch {
	case errors.Is(err, billing.ErrNoBase):
		b.Method, b.Review = billing.MethodNoBase, billing.ReviewPending
	case err != nil:
		return BillingRead{}, false, err
	default:
		b.Black, b.Colour, b.Total, b.Method = est.Meters.Black, est.Meters.Colour, est.Meters.Total, est.Method
	}
	if last != nil && h.AnyResetIn(terms.Billed(), last.At, end) {
		b.Flags = b.Flags.With(billing.FlagCounterReset)
	}
	before := 0
	if afterEstimate {
		if before, err = estimatesInARow(ctx, tx, d.ID, p.End, s.billing.EstimatesInARow); err != nil {
			return BillingRead{}, false, err
		}
	}
	if s.billing.RepeatedEstimate(before) {
		b.Flags, b.Review = b.Flags.With(billing.FlagRepeatedEstimate), billing.ReviewPending
	}
	inserted, err := insertBillingRead(ctx, tx, &b)
	return b, inserted, err
}

// estimatesInARow is how many of the device's periods just before the one
// ending periodEnd were estimated, counting at most limit back: its
// current billing reads, a rejected one left out as the invoice does not
// use it.
func estimatesInARow(ctx context.Context, q sqlx.ExtContext, deviceID int64, periodEnd time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var sources []string
	err := sqlx.SelectContext(ctx, q, &sources, q.Rebind(`SELECT b.source FROM billing_reads b
WHERE b.device_id = ? AND b.period_end < ? AND `+billedNotRejected+`
ORDER BY b.period_end DESC LIMIT ?`), deviceID, dbDate(periodEnd), limit)
	if err != nil {
		return 0, fmt.Errorf("estimates in a row of device %d: %w", deviceID, err)
	}
	n := 0
	for n < len(sources) && sources[n] == billing.SourceEstimated {
		n++
	}
	return n, nil
}

// contractPeers loads, for billing.Config.Estimate, the real reads of the
// other devices d's contract bills (under contract, not removed), each
// with its first and last reads and those around from and to
// (loadHistory), up to now.
func contractPeers(ctx context.Context, q sqlx.ExtContext, d billingDevice, now time.Time) billing.Peers {
	return func(from, to time.Time) ([]billing.History, error) {
		var ids []int64
		err := sqlx.SelectContext(ctx, q, &ids, q.Rebind(`SELECT d.id FROM devices d
WHERE d.contract_id = ? AND d.id <> ? AND d.state IN ('active', 'pending_removal') ORDER BY d.id`), d.ContractID, d.ID)
		if err != nil {
			return nil, fmt.Errorf("devices of contract %d: %w", d.ContractID, err)
		}
		out := make([]billing.History, 0, len(ids))
		for _, id := range ids {
			h, err := loadHistory(ctx, q, id, time.Time{}, now, from, to)
			if err != nil {
				return nil, err
			}
			out = append(out, h)
		}
		return out, nil
	}
}
