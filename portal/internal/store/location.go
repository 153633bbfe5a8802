package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
)

// LocationContact is what a customer may change of a shipping location
// online (DESIGN §6: attention name, suite / mail stop, phone).
type LocationContact struct {
	Attention string `db:"attention"`
	Suite     string `db:"suite"`
	Phone     string `db:"phone"`
}

// LocationAddress is the address of a shipping location: shown read-only
// to the customer, changed by the back office only (seed 004).
type LocationAddress struct {
	Company    string `db:"company"`
	Street     string `db:"street"`
	City       string `db:"city"`
	Province   string `db:"province"`
	PostalCode string `db:"postal_code"`
	Country    string `db:"country"`
}

// Location is a shipping location of an account.
type Location struct {
	ID        int64 `db:"id"`
	AccountID int64 `db:"account_id"`
	// Code is the supplier's key of the location within its account (the
	// CSV import finds the location by it); "" for none.
	Code string `db:"code"`
	LocationContact
	LocationAddress
	CreatedAt time.Time `db:"created_at"`
}

const locationColumns = `id, account_id, code, attention, suite, phone, company, street, city, province, postal_code, country, created_at`

// CreateLocation stores a new shipping location of its account (ENOTFOUND
// when the account does not exist). A code another location of the
// account has is ECONFLICT.
func (s *Store) CreateLocation(ctx context.Context, l Location) (Location, error) {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := accountExists(ctx, tx, l.AccountID); err != nil {
			return err
		}
		return s.insertLocation(ctx, tx, &l)
	})
	if err != nil {
		return Location{}, fmt.Errorf("store: create location of account %d: %w", l.AccountID, err)
	}
	return l, nil
}

// insertLocation stores l, of an existing account, and sets its id and
// creation time.
func (s *Store) insertLocation(ctx context.Context, tx *sqlx.Tx, l *Location) error {
	l.Code = strings.TrimSpace(l.Code)
	l.CreatedAt = dbTime(s.now())
	err := tx.GetContext(ctx, &l.ID, tx.Rebind(`INSERT INTO shipping_locations
(account_id, code, attention, suite, phone, company, street, city, province, postal_code, country, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		l.AccountID, l.Code, l.Attention, l.Suite, l.Phone, l.Company, l.Street, l.City, l.Province, l.PostalCode, l.Country, l.CreatedAt)
	return codeTaken(constraint(err), l.Code)
}

// codeTaken names the code of a location a unique violation refused: the
// one unique index of shipping_locations is the code's within an account.
func codeTaken(err error, code string) error {
	if domain.ErrorCode(err) == domain.ECONFLICT {
		return fmt.Errorf("%w: %w", domain.Errorf(domain.ECONFLICT, "another location of the account has code %s", code), err)
	}
	return err
}

// accountExists is nil when the account exists, ENOTFOUND when it does not.
func accountExists(ctx context.Context, tx *sqlx.Tx, id int64) error {
	var one int
	if err := tx.GetContext(ctx, &one, tx.Rebind(`SELECT 1 FROM accounts WHERE id = ?`), id); err != nil {
		return notFound(err, "account %d does not exist", id)
	}
	return nil
}

// Location returns a shipping location by id (ENOTFOUND when there is none).
func (s *Store) Location(ctx context.Context, id int64) (Location, error) {
	var l Location
	err := s.db.GetContext(ctx, &l, s.db.Rebind(`SELECT `+locationColumns+` FROM shipping_locations WHERE id = ?`), id)
	if err != nil {
		return Location{}, fmt.Errorf("store: location %d: %w", id, notFound(err, "location %d does not exist", id))
	}
	l.CreatedAt = l.CreatedAt.UTC()
	return l, nil
}

// Locations lists the shipping locations of an account, oldest first.
func (s *Store) Locations(ctx context.Context, accountID int64) ([]Location, error) {
	var out []Location
	err := s.db.SelectContext(ctx, &out, s.db.Rebind(`SELECT `+locationColumns+` FROM shipping_locations WHERE account_id = ? ORDER BY id`), accountID)
	if err != nil {
		return nil, fmt.Errorf("store: locations of account %d: %w", accountID, err)
	}
	for i := range out {
		out[i].CreatedAt = out[i].CreatedAt.UTC()
	}
	return out, nil
}

// UpdateLocationContact changes the fields a customer may edit, and only
// those (ENOTFOUND when the location does not exist).
func (s *Store) UpdateLocationContact(ctx context.Context, id int64, c LocationContact) error {
	return s.updateLocation(ctx, s.db, id, `attention = ?, suite = ?, phone = ?`, c.Attention, c.Suite, c.Phone)
}

// UpdateLocationAddress changes the address, a back-office change
// (ENOTFOUND when the location does not exist).
func (s *Store) UpdateLocationAddress(ctx context.Context, id int64, a LocationAddress) error {
	return s.updateLocation(ctx, s.db, id, `company = ?, street = ?, city = ?, province = ?, postal_code = ?, country = ?`,
		a.Company, a.Street, a.City, a.Province, a.PostalCode, a.Country)
}

// UpdateLocation changes every field of the location l.ID but its
// account: its code, the customer's fields and the address, a
// back-office change (ENOTFOUND when the location does not exist, ECONFLICT
// when another location of the account has the code).
func (s *Store) UpdateLocation(ctx context.Context, l Location) (Location, error) {
	if err := s.writeLocation(ctx, s.db, &l); err != nil {
		return Location{}, err
	}
	return s.Location(ctx, l.ID)
}

// writeLocation is UpdateLocation on q, without reading the location back.
func (s *Store) writeLocation(ctx context.Context, q sqlx.ExtContext, l *Location) error {
	l.Code = strings.TrimSpace(l.Code)
	err := s.updateLocation(ctx, q, l.ID, `code = ?, attention = ?, suite = ?, phone = ?,
    company = ?, street = ?, city = ?, province = ?, postal_code = ?, country = ?`,
		l.Code, l.Attention, l.Suite, l.Phone, l.Company, l.Street, l.City, l.Province, l.PostalCode, l.Country)
	return codeTaken(err, l.Code)
}

func (s *Store) updateLocation(ctx context.Context, q sqlx.ExtContext, id int64, set string, args ...any) error {
	// RETURNING makes a missing location sql.ErrNoRows.
	var got int64
	err := sqlx.GetContext(ctx, q, &got, q.Rebind(`UPDATE shipping_locations SET `+set+` WHERE id = ? RETURNING id`), append(args, id)...)
	if err != nil {
		return fmt.Errorf("store: update location %d: %w", id, notFound(constraint(err), "location %d does not exist", id))
	}
	return nil
}
