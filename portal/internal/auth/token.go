package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"
)

// tokenBytes is the entropy of a session cookie or a one-time link.
const tokenBytes = 32

// NewToken returns a random token (32 bytes, URL-safe base64) and its
// hash, the only form the database keeps. The token has 256 bits of
// entropy, so a fast hash is enough: there is nothing to guess, unlike a
// password, and the hash is a key looked up in one index probe.
func NewToken() (token string, hash []byte, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("auth: token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken is the hash a token is stored and looked up by.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// SessionPolicy is how long a session lasts: Idle without a request,
// MaxAge at most whatever happens.
type SessionPolicy struct {
	Idle   time.Duration
	MaxAge time.Duration
}

// DefaultSessionPolicy: an hour idle, twelve at most (a working day).
var DefaultSessionPolicy = SessionPolicy{Idle: time.Hour, MaxAge: 12 * time.Hour}

// Expired reports whether a session last seen at lastSeen that ends at
// expiresAt is over at now.
func (p SessionPolicy) Expired(lastSeen, expiresAt, now time.Time) bool {
	return !now.Before(expiresAt) || !now.Before(lastSeen.Add(p.Idle))
}
