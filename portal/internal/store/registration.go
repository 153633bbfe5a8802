package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// NormalPostalCode is a postal code as registration compares it: without
// spaces, in upper case ("h2x 1y4" is "H2X1Y4"). Nothing else is forgiven:
// seed 000 wants the code on file, exactly.
func NormalPostalCode(s string) string {
	return strings.ToUpper(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s))
}

// RegistrationDevice returns the active device under contract of a serial
// (matched as the collector keys it) whose shipping location has the
// postal code given, normalised for spaces and case. No such device, or
// several accounts' (a serial conflict the back office has to resolve), is
// ENOTFOUND: the page says the same as for a wrong code.
func (s *Store) RegistrationDevice(ctx context.Context, serial, postalCode string) (ContractedDevice, error) {
	key, want := serialKey(serial), NormalPostalCode(postalCode)
	if key == "" || want == "" {
		return ContractedDevice{}, domain.Errorf(domain.ENOTFOUND, "no serial or no postal code")
	}
	var rows []struct {
		ContractedDevice
		PostalCode string `db:"postal_code"`
	}
	err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT d.id, d.device_key, d.serial, d.model, d.product_code, d.account_id,
       d.contract_id, d.location_id, d.read_contact_id, d.state, d.replenishment, l.postal_code
FROM devices d JOIN shipping_locations l ON l.id = d.location_id AND l.account_id = d.account_id
WHERE d.device_key = ? AND d.contract_id IS NOT NULL AND d.state = 'active'`), key)
	if err != nil {
		return ContractedDevice{}, fmt.Errorf("store: registration lookup of serial %s: %w", wire.NormalizeSerial(serial), err)
	}
	var found []ContractedDevice
	for _, r := range rows {
		if NormalPostalCode(r.PostalCode) == want {
			found = append(found, r.ContractedDevice)
		}
	}
	if len(found) != 1 {
		return ContractedDevice{}, domain.Errorf(domain.ENOTFOUND, "no single active device of serial %s at postal code %s", wire.NormalizeSerial(serial), want)
	}
	return found[0], nil
}

// Registration is what a person gave to register (seeds 000 and 002),
// and the device and account the serial and postal code matched: the
// payload of a TokenRegister link, until the address is confirmed.
type Registration struct {
	Name        string          `json:"name"`
	Address     string          `json:"address"`
	Email       string          `json:"email"`
	Phone       string          `json:"phone"`
	Language    domain.Language `json:"language"`
	AccountID   int64           `json:"account_id"`
	DeviceID    int64           `json:"device_id"`
	Serial      string          `json:"serial"`
	ReadContact bool            `json:"read_contact"`
}

// RegistrationOutcome is what confirming a registration did.
type RegistrationOutcome struct {
	User    User
	Account Account
	// Primary is true when the user became the account's primary user;
	// otherwise the account had one, PrimaryUser, who is told, and a
	// link request (has_primary) waits for the back office.
	Primary     bool
	PrimaryUser *User
	// Registration is what the person gave.
	Registration Registration
}

// CompleteRegistration uses a registration link: it creates the user with
// the password hash given, makes the user the account's primary user when
// the account has none (else records a has_primary link request for the
// back office), makes the user the device's meter-read contact if asked,
// and enqueues the e-mails mailsFor returns for the outcome — all in one
// transaction. A link used, expired or unknown is ENOTFOUND; an address
// that has become a user meanwhile is ECONFLICT (and the link stays
// unused).
func (s *Store) CompleteRegistration(ctx context.Context, hash []byte, passwordHash string, mailsFor func(RegistrationOutcome) []mail.Message) (RegistrationOutcome, error) {
	var out RegistrationOutcome
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		t, err := s.useToken(ctx, tx, TokenRegister, hash)
		if err != nil {
			return err
		}
		r := &out.Registration
		if err := json.Unmarshal(t.Payload, r); err != nil {
			return domain.Errorf(domain.EINTERNAL, "registration link %d is malformed", t.ID)
		}
		if !r.Language.Valid() {
			r.Language = domain.LanguageFrench
		}
		now := dbTime(s.now())
		u := User{Email: normalEmail(r.Email), Name: r.Name, Phone: r.Phone, Address: r.Address, Language: r.Language, PasswordHash: &passwordHash, CreatedAt: now}
		err = tx.GetContext(ctx, &u.ID, tx.Rebind(`INSERT INTO users (email, name, phone, address, language, password_hash, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`), u.Email, u.Name, u.Phone, u.Address, u.Language, u.PasswordHash, u.CreatedAt)
		if err != nil {
			return constraint(err)
		}
		out.User = u
		// The account row is the lock that serialises two registrations
		// of one account on PostgreSQL (the unique index is the backstop).
		if err := tx.GetContext(ctx, &out.Account, tx.Rebind(`SELECT `+accountColumns+` FROM accounts WHERE id = ?`+s.forUpdate()), r.AccountID); err != nil {
			return notFound(err, "account %d does not exist", r.AccountID)
		}
		var primaries []User
		if err := tx.SelectContext(ctx, &primaries, tx.Rebind(`SELECT `+prefixed("u.", userColumns)+` FROM users u
JOIN memberships m ON m.user_id = u.id WHERE m.account_id = ? AND m.role = 'primary'`), r.AccountID); err != nil {
			return fmt.Errorf("primary of account %d: %w", r.AccountID, err)
		}
		by := ByUser(u.ID)
		if len(primaries) == 0 {
			out.Primary = true
			if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO memberships (user_id, account_id, role, created_at) VALUES (?, ?, 'primary', ?)`),
				u.ID, r.AccountID, now); err != nil {
				return constraint(err)
			}
			if err := s.recordChange(ctx, tx, EntityAccount, r.AccountID, memberField(u.ID), nil, strp(string(domain.RolePrimary)), by); err != nil {
				return err
			}
		} else {
			out.PrimaryUser = &primaries[0]
			if err := s.insertLinkRequest(ctx, tx, LinkRequest{Reason: LinkHasPrimary, Email: u.Email, Name: r.Name, Phone: r.Phone,
				Address: r.Address, Serial: r.Serial, Language: r.Language, AccountID: &r.AccountID, UserID: &u.ID}); err != nil {
				return err
			}
		}
		if r.ReadContact {
			var old *int64
			err := tx.GetContext(ctx, &old, tx.Rebind(`SELECT read_contact_id FROM devices WHERE id = ? AND account_id = ?`), r.DeviceID, r.AccountID)
			if err != nil {
				return notFound(err, "device %d is no longer of account %d", r.DeviceID, r.AccountID)
			}
			if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE devices SET read_contact_id = ? WHERE id = ? AND account_id = ?`), u.ID, r.DeviceID, r.AccountID); err != nil {
				return err
			}
			var oldValue *string
			if old != nil {
				oldValue = strp(strconv.FormatInt(*old, 10))
			}
			if err := s.recordChange(ctx, tx, EntityDevice, r.DeviceID, "read_contact_id", oldValue, strp(strconv.FormatInt(u.ID, 10)), by); err != nil {
				return err
			}
		}
		if mailsFor != nil {
			return s.enqueue(ctx, tx, mailsFor(out)...)
		}
		return nil
	})
	if err != nil {
		return RegistrationOutcome{}, fmt.Errorf("store: complete a registration: %w", err)
	}
	out.User.CreatedAt = out.User.CreatedAt.UTC()
	out.Account.CreatedAt = out.Account.CreatedAt.UTC()
	return out, nil
}

// prefixed puts prefix before each column of a column list.
func prefixed(prefix, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = prefix + c
	}
	return strings.Join(cols, ", ")
}

// Reasons of a link request.
const (
	// LinkNoMatch: the serial and postal code matched no device on file.
	LinkNoMatch = "no_match"
	// LinkHasPrimary: the account already has a primary user.
	LinkHasPrimary = "has_primary"
)

// LinkRequest is a registration the back office completes by hand (table
// link_requests).
type LinkRequest struct {
	ID         int64           `db:"id"`
	Reason     string          `db:"reason"`
	Email      string          `db:"email"`
	Name       string          `db:"name"`
	Phone      string          `db:"phone"`
	Address    string          `db:"address"`
	Serial     string          `db:"serial"`
	PostalCode string          `db:"postal_code"`
	Language   domain.Language `db:"language"`
	AccountID  *int64          `db:"account_id"`
	UserID     *int64          `db:"user_id"`
	Status     string          `db:"status"`
	CreatedAt  time.Time       `db:"created_at"`
	ResolvedAt *time.Time      `db:"resolved_at"`
}

const linkRequestColumns = `id, reason, email, name, phone, address, serial, postal_code, language, account_id, user_id, status, created_at, resolved_at`

// CreateLinkRequest stores a request for the back office and enqueues the
// e-mails that acknowledge it, in one transaction.
func (s *Store) CreateLinkRequest(ctx context.Context, r LinkRequest, mails ...mail.Message) (LinkRequest, error) {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.insertLinkRequest(ctx, tx, r); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, mails...)
	})
	if err != nil {
		return LinkRequest{}, fmt.Errorf("store: create a link request: %w", err)
	}
	return r, nil
}

func (s *Store) insertLinkRequest(ctx context.Context, tx *sqlx.Tx, r LinkRequest) error {
	if !r.Language.Valid() {
		r.Language = domain.LanguageFrench
	}
	_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO link_requests
(reason, email, name, phone, address, serial, postal_code, language, account_id, user_id, status, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)`), r.Reason, normalEmail(r.Email), r.Name, r.Phone, r.Address,
		wire.NormalizeSerial(r.Serial), r.PostalCode, r.Language, r.AccountID, r.UserID, dbTime(s.now()))
	if err != nil {
		return fmt.Errorf("insert link request: %w", constraint(err))
	}
	return nil
}

// OpenLinkRequests lists the requests the back office has yet to handle,
// oldest first (index link_requests_open).
func (s *Store) OpenLinkRequests(ctx context.Context) ([]LinkRequest, error) {
	var out []LinkRequest
	if err := s.db.SelectContext(ctx, &out, `SELECT `+linkRequestColumns+` FROM link_requests WHERE status = 'open' ORDER BY created_at, id`); err != nil {
		return nil, fmt.Errorf("store: open link requests: %w", err)
	}
	for i := range out {
		out[i].CreatedAt = out[i].CreatedAt.UTC()
	}
	return out, nil
}
