package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/shared/domain"
)

// BillingReadDetail is a billing read with whose device and contract it
// is: a row of the export, or of the back office's review queue (its
// page and the API's).
type BillingReadDetail struct {
	BillingRead
	AccountID      int64  `db:"account_id"`
	CustomerNumber string `db:"customer_number"`
	AccountName    string `db:"account_name"`
	ContractNumber string `db:"contract_number"`
	Serial         string `db:"serial"`
	Model          string `db:"model"`
	// SubmittedBy is the e-mail of the user who typed the read in, ""
	// for an agent's read or an estimate.
	SubmittedBy string `db:"submitted_by"`
}

// ExportRow is the read as the export gives it.
func (d BillingReadDetail) ExportRow() billing.ExportRow {
	return billing.ExportRow{CustomerNumber: d.CustomerNumber, ContractNumber: d.ContractNumber, Serial: d.Serial, Model: d.Model,
		PeriodStart: d.PeriodStart, PeriodEnd: d.PeriodEnd, ReadAt: d.ReadAt, Black: d.Black, Colour: d.Colour, Total: d.Total,
		Source: d.Source, Method: d.Method, Flags: d.Flags.String(), Review: d.Review}
}

// ExportRows are the reads as the export gives them.
func ExportRows(ds []BillingReadDetail) []billing.ExportRow {
	out := make([]billing.ExportRow, len(ds))
	for i, d := range ds {
		out[i] = d.ExportRow()
	}
	return out
}

// billingDetailSelect reads current billing reads (alias b) with their
// account, contract and device; the callers add conditions and order.
const billingDetailSelect = `SELECT ` + billingReadColumns + `,
       a.id AS account_id, a.customer_number, a.name AS account_name, c.number AS contract_number, d.serial, d.model,
       COALESCE(u.email, '') AS submitted_by
FROM billing_reads b
JOIN devices d ON d.id = b.device_id
JOIN contracts c ON c.id = b.contract_id
JOIN accounts a ON a.id = c.account_id
LEFT JOIN users u ON u.id = b.submitted_by_user_id
WHERE b.superseded_at IS NULL`

func (s *Store) billingDetails(ctx context.Context, q sqlx.QueryerContext, query string, args ...any) ([]BillingReadDetail, error) {
	var out []BillingReadDetail
	if err := sqlx.SelectContext(ctx, q, &out, s.db.Rebind(query), args...); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].utc()
	}
	return out, nil
}

// BillingReadsOfPeriod returns the current billing reads of the periods
// ending on periodEnd (a date), by customer number, contract number and
// serial: what the export gives an invoicing system (index
// billing_reads_period). A period closed later (a campaign still open)
// has no row yet.
func (s *Store) BillingReadsOfPeriod(ctx context.Context, periodEnd time.Time) ([]BillingReadDetail, error) {
	out, err := s.billingDetails(ctx, s.db, billingDetailSelect+` AND b.period_end = ?
ORDER BY a.customer_number, c.number, d.serial, d.id`, dbDate(periodEnd))
	if err != nil {
		return nil, fmt.Errorf("store: billing reads of the period ending %s: %w", periodEnd.Format(time.DateOnly), err)
	}
	return out, nil
}

// BillingReviewQueue lists the current billing reads waiting for the back
// office (review pending: a lower read with its photo, a jump, an
// estimate with nothing to start from), oldest first; limit 0 is 50
// (index billing_reads_review).
func (s *Store) BillingReviewQueue(ctx context.Context, limit int) ([]BillingReadDetail, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	out, err := s.billingDetails(ctx, s.db, billingDetailSelect+` AND b.review = 'pending'
ORDER BY b.created_at, b.id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: billing reads to review: %w", err)
	}
	return out, nil
}

// EntityBillingRead is the state_changes entity of a billing read.
const EntityBillingRead = "billing_read"

// ReviewBillingRead records the back office's decision on a read waiting
// for review: accepted (the invoice uses it) or rejected (it stays the
// period's read, marked rejected, so that the export says the invoice
// must not use it as it is). A read not waiting for review is ENOTFOUND.
// The decision is recorded with the actor.
func (s *Store) ReviewBillingRead(ctx context.Context, id int64, accept bool, by Actor) error {
	if err := by.check(); err != nil {
		return err
	}
	decision := billing.ReviewRejected
	if accept {
		decision = billing.ReviewAccepted
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var got int64
		err := tx.GetContext(ctx, &got, tx.Rebind(`UPDATE billing_reads SET review = ?
WHERE id = ? AND review = 'pending' AND superseded_at IS NULL RETURNING id`), decision, id)
		if err != nil {
			return notFound(err, "billing read %d is not waiting for review", id)
		}
		return s.recordChange(ctx, tx, EntityBillingRead, id, "review", strp(billing.ReviewPending), strp(decision), by)
	})
	if err != nil {
		return fmt.Errorf("store: review billing read %d: %w", id, err)
	}
	return nil
}

// ParsePeriodEnd reads a period end given as YYYY-MM-DD (the export's
// parameter); anything else is EINVALID.
func ParsePeriodEnd(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, domain.Errorf(domain.EINVALID, "period end %q: want a date, YYYY-MM-DD", s)
	}
	return t, nil
}
