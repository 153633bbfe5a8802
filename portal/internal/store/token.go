package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/meterline/meterline/shared/domain"
)

// TokenScope is what a back-office API token may do: read, or read and
// write.
type TokenScope string

// Token scopes.
const (
	ScopeRead  TokenScope = "read"
	ScopeWrite TokenScope = "write"
)

// Valid reports whether s is a known scope.
func (s TokenScope) Valid() bool { return s == ScopeRead || s == ScopeWrite }

// Allows reports whether a token of scope s may use a route that needs
// scope need: write includes read.
func (s TokenScope) Allows(need TokenScope) bool {
	return s == ScopeWrite || s == need
}

// lastUsedResolution is how precise a token's last_used_at is.
const lastUsedResolution = time.Minute

// tokenPrefix starts every secret, so a leaked one is recognisable.
const tokenPrefix = "mlt_"

// APIToken is a back-office API token. The secret is never stored: only
// its SHA-256. It is 32 random bytes, so a fast hash is enough (unlike a
// password there is nothing to guess), and the hash is a unique key the
// request looks up in one probe; bcrypt's salt would forbid that lookup and
// cost ~50 ms of CPU on every request for no gain.
type APIToken struct {
	ID         int64      `db:"id"`
	Name       string     `db:"name"`
	Scope      TokenScope `db:"scope"`
	CreatedAt  time.Time  `db:"created_at"`
	ExpiresAt  *time.Time `db:"expires_at"`
	RevokedAt  *time.Time `db:"revoked_at"`
	LastUsedAt *time.Time `db:"last_used_at"`
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CreateToken stores a new token named name of a scope, expiring after ttl
// (0: never), and returns it with its secret, which is shown once and
// never again.
func (s *Store) CreateToken(ctx context.Context, name string, scope TokenScope, ttl time.Duration) (APIToken, string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return APIToken{}, "", domain.Errorf(domain.EINVALID, "a token needs a name")
	case !scope.Valid():
		return APIToken{}, "", domain.Errorf(domain.EINVALID, "scope %q is not read or write", scope)
	case ttl < 0:
		return APIToken{}, "", domain.Errorf(domain.EINVALID, "a token cannot expire in the past")
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return APIToken{}, "", fmt.Errorf("store: token secret: %w", err)
	}
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	t := APIToken{Name: name, Scope: scope, CreatedAt: dbTime(s.now())}
	if ttl > 0 {
		exp := t.CreatedAt.Add(ttl)
		t.ExpiresAt = &exp
	}
	err := s.db.GetContext(ctx, &t.ID, s.db.Rebind(`INSERT INTO api_tokens (name, scope, secret_hash, created_at, expires_at)
VALUES (?, ?, ?, ?, ?) RETURNING id`), t.Name, t.Scope, hashSecret(secret), t.CreatedAt, t.ExpiresAt)
	if err != nil {
		return APIToken{}, "", fmt.Errorf("store: create token %s: %w", name, constraint(err))
	}
	return t, secret, nil
}

// Authenticate returns the token of a secret and marks it used. An unknown
// secret, or the secret of an expired or revoked token, is EUNAUTHORIZED
// with the same message, so the answer tells an attacker nothing.
func (s *Store) Authenticate(ctx context.Context, secret string) (APIToken, error) {
	refused := domain.Errorf(domain.EUNAUTHORIZED, "invalid, expired or revoked token")
	if !strings.HasPrefix(secret, tokenPrefix) {
		return APIToken{}, refused
	}
	var t APIToken
	err := s.db.GetContext(ctx, &t, s.db.Rebind(`SELECT id, name, scope, created_at, expires_at, revoked_at, last_used_at
FROM api_tokens WHERE secret_hash = ?`), hashSecret(secret))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return APIToken{}, refused
		}
		return APIToken{}, fmt.Errorf("store: authenticate: %w", err)
	}
	now := dbTime(s.now())
	if t.RevokedAt != nil || (t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)) {
		return APIToken{}, refused
	}
	// last_used_at is written at most once a minute per token, so a busy
	// client does not turn every read into a write.
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= lastUsedResolution {
		if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE api_tokens SET last_used_at = ? WHERE id = ?`), now, t.ID); err != nil {
			return APIToken{}, fmt.Errorf("store: mark token %d used: %w", t.ID, err)
		}
		t.LastUsedAt = &now
	}
	return t, nil
}

// RevokeToken revokes a token (ENOTFOUND when there is none); revoking a
// revoked token keeps its first revocation time.
func (s *Store) RevokeToken(ctx context.Context, id int64) error {
	var got int64
	err := s.db.GetContext(ctx, &got, s.db.Rebind(`UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING id`), dbTime(s.now()), id)
	if err != nil {
		return fmt.Errorf("store: revoke token %d: %w", id, notFound(err, "token %d does not exist", id))
	}
	return nil
}

// SetClock replaces the store's clock; tests use it to expire tokens.
func (s *Store) SetClock(now func() time.Time) { s.now = now }
