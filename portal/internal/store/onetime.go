package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/shared/domain"
)

// Kinds of one-time link (table one_time_tokens). A new kind needs no
// migration: add its constant here.
const (
	// TokenRegister confirms a registration; its payload is a Registration
	// and it has no user yet.
	TokenRegister = "register"
	// TokenReset sets a forgotten password.
	TokenReset = "reset"
	// TokenEmailChange confirms a new e-mail address; its payload is
	// EmailChange.
	TokenEmailChange = "email_change"
)

// OneTimeToken is a link sent by e-mail that works once, before it
// expires. Only the hash of its secret is stored.
type OneTimeToken struct {
	ID        int64      `db:"id"`
	Kind      string     `db:"kind"`
	UserID    *int64     `db:"user_id"`
	Hash      []byte     `db:"token_hash"`
	Payload   []byte     `db:"payload"`
	CreatedAt time.Time  `db:"created_at"`
	ExpiresAt time.Time  `db:"expires_at"`
	UsedAt    *time.Time `db:"used_at"`
}

//nolint:gosec // G101: column names, not a credential
const tokenColumns = `id, kind, user_id, token_hash, payload, created_at, expires_at, used_at`

// CreateOneTimeToken stores a one-time link and enqueues the e-mails that
// carry it, in one transaction: the link exists iff its e-mail will go.
func (s *Store) CreateOneTimeToken(ctx context.Context, t OneTimeToken, mails ...mail.Message) (OneTimeToken, error) {
	if t.Kind == "" || len(t.Hash) == 0 {
		return OneTimeToken{}, domain.Errorf(domain.EINVALID, "a one-time link needs a kind and a hash")
	}
	if len(t.Payload) == 0 {
		t.Payload = []byte(`{}`)
	}
	t.CreatedAt, t.ExpiresAt = dbTime(s.now()), dbTime(t.ExpiresAt)
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &t.ID, tx.Rebind(`INSERT INTO one_time_tokens (kind, user_id, token_hash, payload, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?) RETURNING id`), t.Kind, t.UserID, t.Hash, string(t.Payload), t.CreatedAt, t.ExpiresAt); err != nil {
			return constraint(err)
		}
		return s.enqueue(ctx, tx, mails...)
	})
	if err != nil {
		return OneTimeToken{}, fmt.Errorf("store: create a %s link: %w", t.Kind, err)
	}
	return t, nil
}

// OneTimeToken returns the link of kind and hash if it can still be used:
// not used and not expired. Any other link is ENOTFOUND, whatever the
// reason, so a page cannot tell a used link from one that never was.
func (s *Store) OneTimeToken(ctx context.Context, kind string, hash []byte) (OneTimeToken, error) {
	var t OneTimeToken
	err := s.db.GetContext(ctx, &t, s.db.Rebind(`SELECT `+tokenColumns+` FROM one_time_tokens
WHERE token_hash = ? AND kind = ? AND used_at IS NULL AND expires_at > ?`), hash, kind, dbTime(s.now()))
	if err != nil {
		return OneTimeToken{}, fmt.Errorf("store: %s link: %w", kind, notFound(err, "no usable %s link", kind))
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	return t, nil
}

// useToken marks the usable link of kind and hash used, in tx, and returns
// it; a link used, expired or unknown is ENOTFOUND. Two requests using one
// link at once: the UPDATE lets one win.
func (s *Store) useToken(ctx context.Context, tx *sqlx.Tx, kind string, hash []byte) (OneTimeToken, error) {
	now := dbTime(s.now())
	var t OneTimeToken
	err := tx.GetContext(ctx, &t, tx.Rebind(`UPDATE one_time_tokens SET used_at = ?
WHERE token_hash = ? AND kind = ? AND used_at IS NULL AND expires_at > ? RETURNING `+tokenColumns), now, hash, kind, now)
	if err != nil {
		return OneTimeToken{}, notFound(err, "no usable %s link", kind)
	}
	return t, nil
}

// ResetPassword uses a password-reset link: it sets the user's password
// hash, ends all the user's sessions and voids the user's other reset
// links, in one transaction, and returns the user. A link used, expired or
// unknown is ENOTFOUND.
func (s *Store) ResetPassword(ctx context.Context, hash []byte, passwordHash string) (User, error) {
	var u User
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		t, err := s.useToken(ctx, tx, TokenReset, hash)
		if err != nil {
			return err
		}
		if t.UserID == nil {
			return domain.Errorf(domain.EINTERNAL, "reset link %d has no user", t.ID)
		}
		if err := setPasswordHash(ctx, tx, *t.UserID, passwordHash); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE one_time_tokens SET used_at = ? WHERE user_id = ? AND kind = ? AND used_at IS NULL`),
			dbTime(s.now()), *t.UserID, TokenReset); err != nil {
			return fmt.Errorf("void other reset links: %w", err)
		}
		return tx.GetContext(ctx, &u, tx.Rebind(`SELECT `+userColumns+` FROM users WHERE id = ?`), *t.UserID)
	})
	if err != nil {
		return User{}, fmt.Errorf("store: reset a password: %w", err)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// EmailChange is the payload of a TokenEmailChange link.
type EmailChange struct {
	Email string `json:"email"`
}

// ConfirmEmailChange uses an e-mail change link: the user's address
// becomes the one the link was sent to. A link used, expired or unknown is
// ENOTFOUND; an address another user took meanwhile is ECONFLICT.
func (s *Store) ConfirmEmailChange(ctx context.Context, hash []byte) (User, error) {
	var u User
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		t, err := s.useToken(ctx, tx, TokenEmailChange, hash)
		if err != nil {
			return err
		}
		var p EmailChange
		if err := json.Unmarshal(t.Payload, &p); err != nil || t.UserID == nil {
			return domain.Errorf(domain.EINTERNAL, "e-mail change link %d is malformed", t.ID)
		}
		err = tx.GetContext(ctx, &u, tx.Rebind(`UPDATE users SET email = ? WHERE id = ? RETURNING `+userColumns), normalEmail(p.Email), *t.UserID)
		return constraint(err)
	})
	if err != nil {
		return User{}, fmt.Errorf("store: confirm an e-mail change: %w", err)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// Enqueue enqueues e-mails in a transaction of their own: for the mail a
// change of no row causes (the notice to an address that has no account).
func (s *Store) Enqueue(ctx context.Context, mails ...mail.Message) error {
	if err := s.inTx(ctx, func(tx *sqlx.Tx) error { return s.enqueue(ctx, tx, mails...) }); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// enqueue puts e-mails in the outbox within tx.
func (s *Store) enqueue(ctx context.Context, tx *sqlx.Tx, mails ...mail.Message) error {
	for _, m := range mails {
		if _, err := s.outbox.Enqueue(ctx, tx, m); err != nil {
			return err
		}
	}
	return nil
}
