package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
)

// Contract is a cost-per-copy contract of an account.
type Contract struct {
	ID            int64                `db:"id"`
	Number        string               `db:"number"`
	AccountID     int64                `db:"account_id"`
	BillingPeriod domain.BillingPeriod `db:"billing_period"`
	// The meters billed: at least one.
	BillsBlack  bool `db:"bills_black"`
	BillsColour bool `db:"bills_colour"`
	BillsTotal  bool `db:"bills_total"`
	// Start and End are dates (midnight UTC); End nil: open-ended.
	Start                 time.Time  `db:"start_date"`
	End                   *time.Time `db:"end_date"`
	ExpectedMonthlyVolume int64      `db:"expected_monthly_volume"`
	CreatedAt             time.Time  `db:"created_at"`
}

const contractColumns = `id, number, account_id, billing_period, bills_black, bills_colour, bills_total, start_date, end_date, expected_monthly_volume, created_at`

func (c *Contract) utc() {
	c.Start, c.CreatedAt = dbDate(c.Start), c.CreatedAt.UTC()
	if c.End != nil {
		end := dbDate(*c.End)
		c.End = &end
	}
}

// CreateContract stores a new contract of an existing account (ENOTFOUND
// otherwise). The number is required and unique (ECONFLICT), the billing
// period known and at least one meter billed, the start date set and the
// end date, if any, not before it (EINVALID).
func (s *Store) CreateContract(ctx context.Context, c Contract) (Contract, error) {
	if err := c.check(); err != nil {
		return Contract{}, err
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := accountExists(ctx, tx, c.AccountID); err != nil {
			return err
		}
		return s.insertContract(ctx, tx, &c)
	})
	if err != nil {
		return Contract{}, fmt.Errorf("store: create contract %s: %w", c.Number, err)
	}
	return c, nil
}

// check trims a contract's number, checks what CreateContract requires
// (EINVALID) and makes its dates dates.
func (c *Contract) check() error {
	c.Number = strings.TrimSpace(c.Number)
	switch {
	case c.Number == "":
		return domain.Errorf(domain.EINVALID, "a contract needs a number")
	case !c.BillingPeriod.Valid():
		return domain.Errorf(domain.EINVALID, "billing period %q is not quarterly or monthly", c.BillingPeriod)
	case !c.BillsBlack && !c.BillsColour && !c.BillsTotal:
		return domain.Errorf(domain.EINVALID, "contract %s bills no meter", c.Number)
	case c.Start.IsZero():
		return domain.Errorf(domain.EINVALID, "contract %s needs a start date", c.Number)
	case c.End != nil && dbDate(*c.End).Before(dbDate(c.Start)):
		return domain.Errorf(domain.EINVALID, "contract %s ends before it starts", c.Number)
	case c.ExpectedMonthlyVolume < 0:
		return domain.Errorf(domain.EINVALID, "contract %s: expected monthly volume is negative", c.Number)
	}
	c.utc()
	return nil
}

// insertContract stores c, checked, of an existing account, and sets its
// id and creation time.
func (s *Store) insertContract(ctx context.Context, tx *sqlx.Tx, c *Contract) error {
	c.CreatedAt = dbTime(s.now())
	err := tx.GetContext(ctx, &c.ID, tx.Rebind(`INSERT INTO contracts
(number, account_id, billing_period, bills_black, bills_colour, bills_total, start_date, end_date, expected_monthly_volume, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		c.Number, c.AccountID, c.BillingPeriod, c.BillsBlack, c.BillsColour, c.BillsTotal, c.Start, c.End, c.ExpectedMonthlyVolume, c.CreatedAt)
	return constraint(err)
}

// updateContractTerms writes the terms of the contract c.ID, checked: its
// billing period, meters billed, dates and expected volume (the number
// and the account stay).
func updateContractTerms(ctx context.Context, tx *sqlx.Tx, c Contract) error {
	_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE contracts SET billing_period = ?, bills_black = ?, bills_colour = ?, bills_total = ?,
    start_date = ?, end_date = ?, expected_monthly_volume = ? WHERE id = ?`),
		c.BillingPeriod, c.BillsBlack, c.BillsColour, c.BillsTotal, c.Start, c.End, c.ExpectedMonthlyVolume, c.ID)
	return constraint(err)
}

// sameTerms reports whether two contracts have the same terms (what
// updateContractTerms writes).
func (c Contract) sameTerms(o Contract) bool {
	return c.BillingPeriod == o.BillingPeriod && c.BillsBlack == o.BillsBlack && c.BillsColour == o.BillsColour &&
		c.BillsTotal == o.BillsTotal && c.Start.Equal(o.Start) && c.ExpectedMonthlyVolume == o.ExpectedMonthlyVolume &&
		((c.End == nil && o.End == nil) || (c.End != nil && o.End != nil && c.End.Equal(*o.End)))
}

// Contract returns a contract by id (ENOTFOUND when there is none).
func (s *Store) Contract(ctx context.Context, id int64) (Contract, error) {
	var c Contract
	err := s.db.GetContext(ctx, &c, s.db.Rebind(`SELECT `+contractColumns+` FROM contracts WHERE id = ?`), id)
	if err != nil {
		return Contract{}, fmt.Errorf("store: contract %d: %w", id, notFound(err, "contract %d does not exist", id))
	}
	c.utc()
	return c, nil
}

// Contracts lists the contracts of an account by number.
func (s *Store) Contracts(ctx context.Context, accountID int64) ([]Contract, error) {
	var out []Contract
	err := s.db.SelectContext(ctx, &out, s.db.Rebind(`SELECT `+contractColumns+` FROM contracts WHERE account_id = ? ORDER BY number`), accountID)
	if err != nil {
		return nil, fmt.Errorf("store: contracts of account %d: %w", accountID, err)
	}
	for i := range out {
		out[i].utc()
	}
	return out, nil
}
