package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
)

// Account is a customer account.
type Account struct {
	ID             int64           `db:"id"`
	CustomerNumber string          `db:"customer_number"`
	Name           string          `db:"name"`
	Language       domain.Language `db:"language"`
	CreatedAt      time.Time       `db:"created_at"`
}

const accountColumns = `id, customer_number, name, language, created_at`

// CreateAccount stores a new account. The customer number and the name are
// required, the language must be known (EINVALID), and a customer number
// already taken is ECONFLICT.
func (s *Store) CreateAccount(ctx context.Context, a Account) (Account, error) {
	if err := a.check(); err != nil {
		return Account{}, err
	}
	if err := s.insertAccount(ctx, s.db, &a); err != nil {
		return Account{}, fmt.Errorf("store: create account %s: %w", a.CustomerNumber, err)
	}
	return a, nil
}

// check trims an account's customer number and name and checks what an
// account needs: both of them and a known language (EINVALID).
func (a *Account) check() error {
	a.CustomerNumber, a.Name = strings.TrimSpace(a.CustomerNumber), strings.TrimSpace(a.Name)
	switch {
	case a.CustomerNumber == "":
		return domain.Errorf(domain.EINVALID, "an account needs a customer number")
	case a.Name == "":
		return domain.Errorf(domain.EINVALID, "account %s needs a name", a.CustomerNumber)
	case !a.Language.Valid():
		return domain.Errorf(domain.EINVALID, "language %q is not fr or en", a.Language)
	}
	return nil
}

// insertAccount stores a, checked, and sets its id and creation time.
func (s *Store) insertAccount(ctx context.Context, q sqlx.ExtContext, a *Account) error {
	a.CreatedAt = dbTime(s.now())
	err := sqlx.GetContext(ctx, q, &a.ID, q.Rebind(`INSERT INTO accounts (customer_number, name, language, created_at)
VALUES (?, ?, ?, ?) RETURNING id`), a.CustomerNumber, a.Name, a.Language, a.CreatedAt)
	return constraint(err)
}

// UpdateAccount changes the name and the language of the account a.ID
// (the customer number is the supplier's key and stays); they are checked
// as CreateAccount checks them (EINVALID), and a missing account is
// ENOTFOUND.
func (s *Store) UpdateAccount(ctx context.Context, a Account) (Account, error) {
	if err := a.check(); err != nil {
		return Account{}, err
	}
	if err := writeAccount(ctx, s.db, &a); err != nil {
		return Account{}, fmt.Errorf("store: update account %d: %w", a.ID, err)
	}
	return a, nil
}

// writeAccount writes the name and the language of the account a.ID, a
// checked, and reads the account back into a.
func writeAccount(ctx context.Context, q sqlx.ExtContext, a *Account) error {
	err := sqlx.GetContext(ctx, q, a, q.Rebind(`UPDATE accounts SET name = ?, language = ? WHERE id = ?
RETURNING `+accountColumns), a.Name, a.Language, a.ID)
	a.CreatedAt = a.CreatedAt.UTC()
	return notFound(constraint(err), "account %d does not exist", a.ID)
}

// Account returns an account by id (ENOTFOUND when there is none).
func (s *Store) Account(ctx context.Context, id int64) (Account, error) {
	var a Account
	err := s.db.GetContext(ctx, &a, s.db.Rebind(`SELECT `+accountColumns+` FROM accounts WHERE id = ?`), id)
	if err != nil {
		return Account{}, fmt.Errorf("store: account %d: %w", id, notFound(err, "account %d does not exist", id))
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return a, nil
}

// AccountByNumber returns an account by customer number (ENOTFOUND when
// there is none).
func (s *Store) AccountByNumber(ctx context.Context, number string) (Account, error) {
	var a Account
	number = strings.TrimSpace(number)
	err := s.db.GetContext(ctx, &a, s.db.Rebind(`SELECT `+accountColumns+` FROM accounts WHERE customer_number = ?`), number)
	if err != nil {
		return Account{}, fmt.Errorf("store: account %s: %w", number, notFound(err, "no account has customer number %s", number))
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return a, nil
}

// Accounts lists the accounts by customer number.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	var out []Account
	if err := s.db.SelectContext(ctx, &out, `SELECT `+accountColumns+` FROM accounts ORDER BY customer_number`); err != nil {
		return nil, fmt.Errorf("store: list accounts: %w", err)
	}
	for i := range out {
		out[i].CreatedAt = out[i].CreatedAt.UTC()
	}
	return out, nil
}
