package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// RegistrationDevice returns the device under contract a serial and a
// postal code designate (MatchSerialPostalCode). No match, or a serial
// several accounts hold there (a conflict the back office has to
// resolve), or a device not active (pending removal), is ENOTFOUND: the
// page says the same for all.
func (s *Store) RegistrationDevice(ctx context.Context, serial, postalCode string) (ContractedDevice, error) {
	m, err := s.MatchSerialPostalCode(ctx, serial, postalCode)
	if code := domain.ErrorCode(err); code == domain.EINVALID || code == domain.ECONFLICT {
		return ContractedDevice{}, fmt.Errorf("%w: %w", domain.Errorf(domain.ENOTFOUND, "no single device of serial %s at that postal code", wire.NormalizeSerial(serial)), err)
	}
	if err != nil {
		return ContractedDevice{}, err
	}
	d, err := s.ContractedDevice(ctx, m.DeviceID)
	if err != nil {
		return ContractedDevice{}, err
	}
	// A device on its way out opens no new account to anyone.
	if d.State != domain.ContractActive {
		return ContractedDevice{}, domain.Errorf(domain.ENOTFOUND, "device of serial %s is %s", d.Serial, d.State)
	}
	return d, nil
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
			if _, err := s.insertRequest(ctx, tx, Request{Kind: RequestSerialLink, AccountID: &r.AccountID, UserID: &u.ID, Subject: LinkHasPrimary,
				Serial: wire.NormalizeSerial(r.Serial), Name: r.Name, Email: u.Email, Phone: r.Phone, Body: r.Address}); err != nil {
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
