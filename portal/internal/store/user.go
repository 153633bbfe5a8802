package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
)

// User is a person who signs in to the portal or works in the back office.
type User struct {
	ID    int64  `db:"id"`
	Email string `db:"email"`
	Name  string `db:"name"`
	Phone string `db:"phone"`
	// Address is the postal address the person gave at registration.
	Address  string          `db:"address"`
	Language domain.Language `db:"language"`
	// PasswordHash is nil until the user sets a password.
	PasswordHash *string   `db:"password_hash"`
	CreatedAt    time.Time `db:"created_at"`
}

const userColumns = `id, email, name, phone, address, language, password_hash, created_at`

// normalEmail is an e-mail address as stored and looked up: trimmed and in
// lower case, so that one address is one user whatever its case.
func normalEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// CreateUser stores a new user. The e-mail is required (it must hold an
// "@") and unique whatever its case (ECONFLICT); the language must be
// known (EINVALID).
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	if err := u.check(); err != nil {
		return User{}, err
	}
	if err := s.insertUser(ctx, s.db, &u); err != nil {
		return User{}, fmt.Errorf("store: create user %s: %w", u.Email, err)
	}
	return u, nil
}

// check normalises a user's e-mail and checks it and the language
// (EINVALID).
func (u *User) check() error {
	u.Email = normalEmail(u.Email)
	switch {
	case !strings.Contains(u.Email, "@"):
		return domain.Errorf(domain.EINVALID, "%q is not an e-mail address", u.Email)
	case !u.Language.Valid():
		return domain.Errorf(domain.EINVALID, "language %q is not fr or en", u.Language)
	}
	return nil
}

// insertUser stores u, checked, and sets its id and creation time.
func (s *Store) insertUser(ctx context.Context, q sqlx.ExtContext, u *User) error {
	u.CreatedAt = dbTime(s.now())
	err := sqlx.GetContext(ctx, q, &u.ID, q.Rebind(`INSERT INTO users (email, name, phone, address, language, password_hash, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`), u.Email, u.Name, u.Phone, u.Address, u.Language, u.PasswordHash, u.CreatedAt)
	return constraint(err)
}

// User returns a user by id (ENOTFOUND when there is none).
func (s *Store) User(ctx context.Context, id int64) (User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, s.db.Rebind(`SELECT `+userColumns+` FROM users WHERE id = ?`), id)
	if err != nil {
		return User{}, fmt.Errorf("store: user %d: %w", id, notFound(err, "user %d does not exist", id))
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// userByEmail is UserByEmail in q, the e-mail normalised.
func userByEmail(ctx context.Context, q sqlx.ExtContext, email string) (User, error) {
	var u User
	err := sqlx.GetContext(ctx, q, &u, q.Rebind(`SELECT `+userColumns+` FROM users WHERE lower(email) = ?`), email)
	u.CreatedAt = u.CreatedAt.UTC()
	return u, notFound(err, "no user has the e-mail address %s", email)
}

// UserByEmail returns the user of an e-mail address, whatever its case
// (ENOTFOUND when there is none). The lookup uses the index users_email.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	email = normalEmail(email)
	u, err := userByEmail(ctx, s.db, email)
	if err != nil {
		return User{}, fmt.Errorf("store: user %s: %w", email, err)
	}
	return u, nil
}

// SetPasswordHash stores the hash of a user's new password and ends every
// session of the user, in one transaction: a password changed because it
// leaked must not leave the thief signed in (ENOTFOUND when the user does
// not exist). The caller signs the user in again where the change was made.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, hash string) error {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error { return setPasswordHash(ctx, tx, id, hash) })
	if err != nil {
		return fmt.Errorf("store: set the password of user %d: %w", id, err)
	}
	return nil
}

func setPasswordHash(ctx context.Context, tx *sqlx.Tx, id int64, hash string) error {
	var got int64
	err := tx.GetContext(ctx, &got, tx.Rebind(`UPDATE users SET password_hash = ? WHERE id = ? RETURNING id`), hash, id)
	if err != nil {
		return notFound(err, "user %d does not exist", id)
	}
	return deleteUserSessions(ctx, tx, id)
}

// RehashPassword replaces a user's password hash by the same password
// hashed under new parameters, if the hash is still old (a password
// changed meanwhile wins). Sessions are kept: the password is the same.
func (s *Store) RehashPassword(ctx context.Context, id int64, old, hash string) error {
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`), hash, id, old); err != nil {
		return fmt.Errorf("store: rehash the password of user %d: %w", id, err)
	}
	return nil
}

// Membership is a user's role on an account.
type Membership struct {
	UserID    int64       `db:"user_id"`
	AccountID int64       `db:"account_id"`
	Role      domain.Role `db:"role"`
	CreatedAt time.Time   `db:"created_at"`
}

// AddMembership gives a user a role on an account, recorded as a change of
// the account by the actor. An account has one primary user and at most
// domain.MaxDelegates delegates: one more is ECONFLICT, as is a user who
// already has a role on the account. A role not known is EINVALID; a user
// or account that does not exist ENOTFOUND.
func (s *Store) AddMembership(ctx context.Context, m Membership, by Actor) (Membership, error) {
	if !m.Role.Valid() {
		return Membership{}, domain.Errorf(domain.EINVALID, "role %q is not primary, delegate or back_office", m.Role)
	}
	if err := by.check(); err != nil {
		return Membership{}, err
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error { return s.addMembership(ctx, tx, &m, by) })
	if err != nil {
		return Membership{}, fmt.Errorf("store: add user %d to account %d as %s: %w", m.UserID, m.AccountID, m.Role, err)
	}
	return m, nil
}

// addMembership is AddMembership in tx, m's role and the actor checked.
func (s *Store) addMembership(ctx context.Context, tx *sqlx.Tx, m *Membership, by Actor) error {
	number, err := s.lockAccount(ctx, tx, m.AccountID)
	if err != nil {
		return err
	}
	var one int
	if err := tx.GetContext(ctx, &one, tx.Rebind(`SELECT 1 FROM users WHERE id = ?`), m.UserID); err != nil {
		return notFound(err, "user %d does not exist", m.UserID)
	}
	if err := roleFits(ctx, tx, m.AccountID, number, m.Role); err != nil {
		return err
	}
	m.CreatedAt = dbTime(s.now())
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO memberships (user_id, account_id, role, created_at) VALUES (?, ?, ?, ?)`),
		m.UserID, m.AccountID, m.Role, m.CreatedAt); err != nil {
		if err := constraint(err); domain.ErrorCode(err) == domain.ECONFLICT {
			return fmt.Errorf("%w: %w", domain.Errorf(domain.ECONFLICT, "user %d already has a role on account %s", m.UserID, number), err)
		}
		return constraint(err)
	}
	return s.recordChange(ctx, tx, EntityAccount, m.AccountID, memberField(m.UserID), nil, strp(string(m.Role)), by)
}

// changeRole gives a user who has a role on an account another one,
// under the rules of AddMembership, recorded as a change of the account.
func (s *Store) changeRole(ctx context.Context, tx *sqlx.Tx, m Membership, old domain.Role, by Actor) error {
	number, err := s.lockAccount(ctx, tx, m.AccountID)
	if err != nil {
		return err
	}
	if err := roleFits(ctx, tx, m.AccountID, number, m.Role); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE memberships SET role = ? WHERE user_id = ? AND account_id = ?`),
		m.Role, m.UserID, m.AccountID); err != nil {
		return constraint(err)
	}
	return s.recordChange(ctx, tx, EntityAccount, m.AccountID, memberField(m.UserID), strp(string(old)), strp(string(m.Role)), by)
}

// lockAccount takes the account row, the lock that serialises the counts
// of roleFits on PostgreSQL (SQLite's write transaction already does), and
// returns its customer number; ENOTFOUND when there is no such account.
func (s *Store) lockAccount(ctx context.Context, tx *sqlx.Tx, id int64) (string, error) {
	var number string
	if err := tx.GetContext(ctx, &number, tx.Rebind(`SELECT customer_number FROM accounts WHERE id = ?`+s.forUpdate()), id); err != nil {
		return "", notFound(err, "account %d does not exist", id)
	}
	return number, nil
}

// roleFits is nil when the account (named by its customer number in the
// error) may have one more user of the role: one primary,
// domain.MaxDelegates delegates (ECONFLICT otherwise).
func roleFits(ctx context.Context, tx *sqlx.Tx, accountID int64, number string, role domain.Role) error {
	most := map[domain.Role]int{domain.RolePrimary: 1, domain.RoleDelegate: domain.MaxDelegates}[role]
	if most == 0 {
		return nil
	}
	var n int
	if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT count(*) FROM memberships WHERE account_id = ? AND role = ?`), accountID, role); err != nil {
		return fmt.Errorf("count the %s users: %w", role, err)
	}
	switch {
	case n < most:
		return nil
	case role == domain.RolePrimary:
		return domain.Errorf(domain.ECONFLICT, "account %s already has a primary user", number)
	default:
		return domain.Errorf(domain.ECONFLICT, "account %s already has %d delegates, the most it may have", number, n)
	}
}

// countDelegates counts the delegates of an account.
func countDelegates(ctx context.Context, tx *sqlx.Tx, accountID int64) (int, error) {
	var n int
	if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT count(*) FROM memberships WHERE account_id = ? AND role = 'delegate'`), accountID); err != nil {
		return 0, fmt.Errorf("count delegates: %w", err)
	}
	return n, nil
}

// memberField is the field of an account a change of a user's role is
// recorded under.
func memberField(userID int64) string { return "role of user " + strconv.FormatInt(userID, 10) }

// RemoveMembership ends a user's role on an account (either side may end
// a delegation), recorded as a change of the account by the actor
// (ENOTFOUND when the user has no role there).
func (s *Store) RemoveMembership(ctx context.Context, userID, accountID int64, by Actor) error {
	if err := by.check(); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		_, err := s.removeMembership(ctx, tx, userID, accountID, by)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: remove user %d from account %d: %w", userID, accountID, err)
	}
	return nil
}

// Member is a user and their role on an account.
type Member struct {
	User
	Role domain.Role `db:"role"`
}

// Members lists the users who have a role on an account and their role,
// by e-mail.
func (s *Store) Members(ctx context.Context, accountID int64) ([]Member, error) {
	var out []Member
	err := s.db.SelectContext(ctx, &out, s.db.Rebind(`SELECT u.id, u.email, u.name, u.phone, u.language, u.password_hash, u.created_at, m.role
FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.account_id = ? ORDER BY u.email`), accountID)
	if err != nil {
		return nil, fmt.Errorf("store: members of account %d: %w", accountID, err)
	}
	for i := range out {
		out[i].CreatedAt = out[i].CreatedAt.UTC()
	}
	return out, nil
}

// AddMember gives the user of u.Email a role on an account, creating the
// user (without a password: no e-mail is sent here) when the address is
// new; a user who exists keeps the name, phone and language stored. The
// rules of AddMembership apply; the user's e-mail and language are checked
// as CreateUser checks them.
func (s *Store) AddMember(ctx context.Context, accountID int64, u User, role domain.Role, by Actor) (Member, error) {
	if err := u.check(); err != nil {
		return Member{}, err
	}
	m := Membership{AccountID: accountID, Role: role}
	if !role.Valid() {
		return Member{}, domain.Errorf(domain.EINVALID, "role %q is not primary, delegate or back_office", role)
	}
	if err := by.check(); err != nil {
		return Member{}, err
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		have, err := userByEmail(ctx, tx, u.Email)
		switch {
		case err == nil:
			u = have
		case domain.ErrorCode(err) == domain.ENOTFOUND:
			u.PasswordHash = nil
			err = s.insertUser(ctx, tx, &u)
		}
		if err != nil {
			return err
		}
		m.UserID = u.ID
		return s.addMembership(ctx, tx, &m, by)
	})
	if err != nil {
		return Member{}, fmt.Errorf("store: add %s to account %d as %s: %w", u.Email, accountID, role, err)
	}
	return Member{User: u, Role: role}, nil
}

// removeMembership is RemoveMembership in tx; it returns the membership
// removed.
func (s *Store) removeMembership(ctx context.Context, tx *sqlx.Tx, userID, accountID int64, by Actor) (Membership, error) {
	var m Membership
	err := tx.GetContext(ctx, &m, tx.Rebind(`SELECT user_id, account_id, role, created_at FROM memberships WHERE user_id = ? AND account_id = ?`+s.forUpdate()), userID, accountID)
	if err != nil {
		return Membership{}, notFound(err, "user %d has no role on account %d", userID, accountID)
	}
	m.CreatedAt = m.CreatedAt.UTC()
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM memberships WHERE user_id = ? AND account_id = ?`), userID, accountID); err != nil {
		return Membership{}, fmt.Errorf("delete the role: %w", err)
	}
	if err := s.recordChange(ctx, tx, EntityAccount, accountID, memberField(userID), strp(string(m.Role)), nil, by); err != nil {
		return Membership{}, err
	}
	return m, nil
}

// Memberships lists the roles on an account (index memberships_account_id).
func (s *Store) Memberships(ctx context.Context, accountID int64) ([]Membership, error) {
	return s.memberships(ctx, `account_id = ?`, accountID)
}

// UserMemberships lists a user's roles: the accounts the user may act for.
func (s *Store) UserMemberships(ctx context.Context, userID int64) ([]Membership, error) {
	return s.memberships(ctx, `user_id = ?`, userID)
}

func (s *Store) memberships(ctx context.Context, where string, id int64) ([]Membership, error) {
	var out []Membership
	err := s.db.SelectContext(ctx, &out, s.db.Rebind(`SELECT user_id, account_id, role, created_at FROM memberships WHERE `+where+` ORDER BY account_id, user_id`), id)
	if err != nil {
		return nil, fmt.Errorf("store: memberships: %w", err)
	}
	for i := range out {
		out[i].CreatedAt = out[i].CreatedAt.UTC()
	}
	return out, nil
}

// MemberAccount is an account a user has a role on, with what a page
// names it by.
type MemberAccount struct {
	AccountID      int64       `db:"account_id"`
	Role           domain.Role `db:"role"`
	CustomerNumber string      `db:"customer_number"`
	Name           string      `db:"name"`
}

// MemberAccounts lists the accounts a user has a role on, primary roles
// first, then by account name. The portal reads it on every request, so a
// role removed a moment ago no longer counts (index memberships_pkey).
func (s *Store) MemberAccounts(ctx context.Context, userID int64) ([]MemberAccount, error) {
	var out []MemberAccount
	err := s.selectPrepared(ctx, &out, `SELECT m.account_id, m.role, a.customer_number, a.name
FROM memberships m JOIN accounts a ON a.id = m.account_id
WHERE m.user_id = ?
ORDER BY CASE m.role WHEN 'primary' THEN 0 WHEN 'delegate' THEN 1 ELSE 2 END, a.name, a.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("store: accounts of user %d: %w", userID, err)
	}
	return out, nil
}

// Profile is what users change of themselves on their profile page.
type Profile struct {
	Name     string
	Phone    string
	Language domain.Language
}

// UpdateProfile changes a user's name, phone and language and returns the
// user (a language not known is EINVALID, a user not known ENOTFOUND).
func (s *Store) UpdateProfile(ctx context.Context, id int64, p Profile) (User, error) {
	if !p.Language.Valid() {
		return User{}, domain.Errorf(domain.EINVALID, "language %q is not fr or en", p.Language)
	}
	var u User
	err := s.db.GetContext(ctx, &u, s.db.Rebind(`UPDATE users SET name = ?, phone = ?, language = ? WHERE id = ? RETURNING `+userColumns),
		strings.TrimSpace(p.Name), strings.TrimSpace(p.Phone), p.Language, id)
	if err != nil {
		return User{}, fmt.Errorf("store: update the profile of user %d: %w", id, notFound(err, "user %d does not exist", id))
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}
