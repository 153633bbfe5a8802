package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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

// nullAddress is a location's address as a LEFT JOIN reads it: every
// column NULL when there is no location.
type nullAddress struct {
	Company    sql.NullString `db:"company"`
	Street     sql.NullString `db:"street"`
	City       sql.NullString `db:"city"`
	Province   sql.NullString `db:"province"`
	PostalCode sql.NullString `db:"postal_code"`
	Country    sql.NullString `db:"country"`
}

func (a nullAddress) address() LocationAddress {
	return LocationAddress{Company: a.Company.String, Street: a.Street.String, City: a.City.String,
		Province: a.Province.String, PostalCode: a.PostalCode.String, Country: a.Country.String}
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

// AccountLocation returns a shipping location of an account: a location
// of another account is ENOTFOUND, as is one that does not exist.
func (s *Store) AccountLocation(ctx context.Context, accountID, locationID int64) (Location, error) {
	var l Location
	err := s.db.GetContext(ctx, &l, s.db.Rebind(`SELECT `+locationColumns+` FROM shipping_locations WHERE id = ? AND account_id = ?`), locationID, accountID)
	if err != nil {
		return Location{}, fmt.Errorf("store: location %d of account %d: %w", locationID, accountID, notFound(err, "account %d has no location %d", accountID, locationID))
	}
	l.CreatedAt = l.CreatedAt.UTC()
	return l, nil
}

// maxContactField is the longest attention name, suite or phone accepted.
const maxContactField = 100

// UpdateLocationContact changes the fields a customer may edit online of
// a location of an account (attention name, suite / mail stop, phone;
// seed 000), and only those: the address stays as the back office set
// it. Values are trimmed; one longer than 100 characters or holding a
// control character is EINVALID. A location of another account is
// ENOTFOUND. Each field that changes is recorded (entity "location") with
// the actor; setting the values it has records nothing.
func (s *Store) UpdateLocationContact(ctx context.Context, accountID, locationID int64, c LocationContact, by Actor) error {
	if err := by.check(); err != nil {
		return err
	}
	c = LocationContact{Attention: strings.TrimSpace(c.Attention), Suite: strings.TrimSpace(c.Suite), Phone: strings.TrimSpace(c.Phone)}
	for _, f := range []struct{ name, value string }{{"attention", c.Attention}, {"suite", c.Suite}, {"phone", c.Phone}} {
		if err := checkLine(f.name, f.value, maxContactField); err != nil {
			return err
		}
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var cur LocationContact
		err := tx.GetContext(ctx, &cur, tx.Rebind(`SELECT attention, suite, phone FROM shipping_locations WHERE id = ? AND account_id = ?`+s.forUpdate()), locationID, accountID)
		if err != nil {
			return notFound(err, "account %d has no location %d", accountID, locationID)
		}
		if cur == c {
			return nil
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE shipping_locations SET attention = ?, suite = ?, phone = ? WHERE id = ?`),
			c.Attention, c.Suite, c.Phone, locationID); err != nil {
			return constraint(err)
		}
		for _, f := range []struct{ name, old, new string }{
			{"attention", cur.Attention, c.Attention}, {"suite", cur.Suite, c.Suite}, {"phone", cur.Phone, c.Phone},
		} {
			if f.old == f.new {
				continue
			}
			if err := s.recordChange(ctx, tx, EntityLocation, locationID, f.name, &f.old, &f.new, by); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: update the contact of location %d of account %d: %w", locationID, accountID, err)
	}
	return nil
}

// checkLine is nil when value, a one-line field, is at most limit
// characters long and holds no control character; EINVALID naming the
// field otherwise.
func checkLine(field, value string, limit int) error {
	if utf8.RuneCountInString(value) > limit {
		return domain.Errorf(domain.EINVALID, "%s is longer than %d characters", field, limit)
	}
	if strings.IndexFunc(value, unicode.IsControl) >= 0 || !utf8.ValidString(value) {
		return domain.Errorf(domain.EINVALID, "%s holds a character that is not allowed", field)
	}
	return nil
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
