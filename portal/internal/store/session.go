package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
)

// Session is a signed-in browser (table sessions, schema 0012). Its id is
// the SHA-256 of the cookie: the cookie itself is never stored.
type Session struct {
	ID     []byte `db:"id"`
	UserID int64  `db:"user_id"`
	// AccountID is the account the user acts for now; nil when none.
	AccountID  *int64    `db:"account_id"`
	CreatedAt  time.Time `db:"created_at"`
	LastSeenAt time.Time `db:"last_seen_at"`
	ExpiresAt  time.Time `db:"expires_at"`
}

// sessionTouchResolution is how stale last_seen_at may get before a
// request writes it: one write a minute per session, not one a request.
const sessionTouchResolution = time.Minute

// CreateSession stores a new session and deletes the one it replaces
// (replaces is the old session's id, nil for none), in one transaction: a
// sign-in rotates the session id, so a cookie planted before sign-in is
// worth nothing after it. created_at and last_seen_at are now.
func (s *Store) CreateSession(ctx context.Context, sess Session, replaces []byte) (Session, error) {
	now := dbTime(s.now())
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = now, now, dbTime(sess.ExpiresAt)
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if len(replaces) > 0 {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM sessions WHERE id = ?`), replaces); err != nil {
				return fmt.Errorf("delete the old session: %w", err)
			}
		}
		_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO sessions (id, user_id, account_id, created_at, last_seen_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?)`), sess.ID, sess.UserID, sess.AccountID, sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt)
		return constraint(err)
	})
	if err != nil {
		return Session{}, fmt.Errorf("store: create a session of user %d: %w", sess.UserID, err)
	}
	return sess, nil
}

// SessionUser returns the session of an id with its user and the user's
// roles (MemberAccounts' order), in one query: every signed-in request
// runs it (ENOTFOUND when there is no such session). It does not judge
// expiry: the caller's policy does.
func (s *Store) SessionUser(ctx context.Context, id []byte) (Session, User, []MemberAccount, error) {
	var rows []struct {
		Session
		User           `db:"u"`
		AccountID      *int64       `db:"m_account_id"`
		Role           *domain.Role `db:"m_role"`
		CustomerNumber *string      `db:"m_customer_number"`
		Name           *string      `db:"m_name"`
	}
	err := s.selectPrepared(ctx, &rows, `SELECT s.id, s.user_id, s.account_id, s.created_at, s.last_seen_at, s.expires_at,
       u.id AS "u.id", u.email AS "u.email", u.name AS "u.name", u.phone AS "u.phone", u.address AS "u.address",
       u.language AS "u.language", u.password_hash AS "u.password_hash", u.created_at AS "u.created_at",
       m.account_id AS m_account_id, m.role AS m_role, a.customer_number AS m_customer_number, a.name AS m_name
FROM sessions s
JOIN users u ON u.id = s.user_id
LEFT JOIN memberships m ON m.user_id = u.id
LEFT JOIN accounts a ON a.id = m.account_id
WHERE s.id = ?
ORDER BY CASE m.role WHEN 'primary' THEN 0 WHEN 'delegate' THEN 1 ELSE 2 END, a.name, a.id`, id)
	if err != nil {
		return Session{}, User{}, nil, fmt.Errorf("store: session: %w", err)
	}
	if len(rows) == 0 {
		return Session{}, User{}, nil, fmt.Errorf("store: session: %w", domain.Errorf(domain.ENOTFOUND, "no such session"))
	}
	sess, user := rows[0].Session, rows[0].User
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.LastSeenAt.UTC(), sess.ExpiresAt.UTC()
	user.CreatedAt = user.CreatedAt.UTC()
	var accounts []MemberAccount
	for _, r := range rows {
		if r.AccountID != nil {
			accounts = append(accounts, MemberAccount{AccountID: *r.AccountID, Role: *r.Role, CustomerNumber: *r.CustomerNumber, Name: *r.Name})
		}
	}
	return sess, user, accounts, nil
}

// TouchSession records that the session was used now, at most once a
// minute (it reports whether it wrote).
func (s *Store) TouchSession(ctx context.Context, sess Session) (bool, error) {
	now := dbTime(s.now())
	if now.Sub(sess.LastSeenAt) < sessionTouchResolution {
		return false, nil
	}
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE sessions SET last_seen_at = ? WHERE id = ?`), now, sess.ID); err != nil {
		return false, fmt.Errorf("store: touch session of user %d: %w", sess.UserID, err)
	}
	return true, nil
}

// SetSessionAccount makes accountID the account a session acts for (nil:
// none). It does not check membership: the caller has.
func (s *Store) SetSessionAccount(ctx context.Context, id []byte, accountID *int64) error {
	var got []byte
	err := s.db.GetContext(ctx, &got, s.db.Rebind(`UPDATE sessions SET account_id = ? WHERE id = ? RETURNING id`), accountID, id)
	if err != nil {
		return fmt.Errorf("store: set the account of a session: %w", notFound(constraint(err), "no such session"))
	}
	return nil
}

// DeleteSession ends a session (sign-out, expiry); ending one that is
// already gone is not an error.
func (s *Store) DeleteSession(ctx context.Context, id []byte) error {
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM sessions WHERE id = ?`), id); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of a user, on every browser.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error { return deleteUserSessions(ctx, tx, userID) })
}

func deleteUserSessions(ctx context.Context, tx *sqlx.Tx, userID int64) error {
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM sessions WHERE user_id = ?`), userID); err != nil {
		return fmt.Errorf("store: delete the sessions of user %d: %w", userID, err)
	}
	return nil
}

// PruneSignIn deletes what sign-in no longer needs: sessions past their
// absolute end or idle longer than idle, one-time links expired a day
// ago, and attempts older than keepAttempts. Any replica may run it.
func (s *Store) PruneSignIn(ctx context.Context, idle, keepAttempts time.Duration) error {
	now := dbTime(s.now())
	for _, q := range []struct {
		sql string
		arg time.Time
	}{
		{`DELETE FROM sessions WHERE expires_at <= ?`, now},
		{`DELETE FROM sessions WHERE last_seen_at <= ?`, now.Add(-idle)},
		{`DELETE FROM one_time_tokens WHERE expires_at <= ?`, now.Add(-24 * time.Hour)},
		{`DELETE FROM auth_attempts WHERE at <= ?`, now.Add(-keepAttempts)},
	} {
		if _, err := s.db.ExecContext(ctx, s.db.Rebind(q.sql), q.arg); err != nil {
			return fmt.Errorf("store: prune sign-in data: %w", err)
		}
	}
	return nil
}
