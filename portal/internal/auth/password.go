// Package auth holds the portal's sign-in primitives, free of HTTP and of
// the database: password hashing (argon2id), the password rules, and the
// random tokens of sessions and one-time links, which are stored hashed.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters. A hash records the parameters it
// was made with, so they can be raised without locking anyone out: a
// password checked against a hash of other parameters is rehashed.
type Params struct {
	// Memory is in KiB.
	Memory  uint32
	Time    uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// DefaultParams are OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane):
// about 30 ms on a server core, which a sign-in can afford and a guesser
// with a stolen table cannot.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// TestParams are cheap parameters for tests only.
var TestParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Hasher hashes and checks passwords with its parameters.
type Hasher struct {
	params Params
	// dummy is a hash checked when there is no user, so that an unknown
	// e-mail costs the same as a wrong password.
	dummy string
}

// NewHasher returns a hasher of parameters p (DefaultParams when zero).
func NewHasher(p Params) (*Hasher, error) {
	if p == (Params{}) {
		p = DefaultParams
	}
	if p.Memory < 8*uint32(p.Threads) || p.Time == 0 || p.Threads == 0 || p.SaltLen < 8 || p.KeyLen < 16 {
		return nil, fmt.Errorf("auth: argon2id parameters %+v are too weak or malformed", p)
	}
	h := &Hasher{params: p}
	dummy, err := h.Hash("not a password anyone has")
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// Hash returns the PHC string of password under the hasher's parameters:
// $argon2id$v=19$m=…,t=…,p=…$salt$hash (unpadded standard base64).
func (h *Hasher) Hash(password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ErrMalformedHash is returned for a stored hash that is not an argon2id
// PHC string this package can read.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// Verify reports whether password matches the PHC string encoded, and
// whether the hash should be replaced (its parameters are not the
// hasher's). The comparison takes constant time.
func (h *Hasher) Verify(encoded, password string) (ok, rehash bool, err error) {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key))) //nolint:gosec // len(key) is a decoded hash's length, far below 2^32
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key)) //nolint:gosec // lengths of decoded base64 fields, far below 2^32
	return true, p != h.params, nil
}

// VerifyNothing does the work of a failed Verify for a user who does not
// exist or has no password yet, so that the answer takes as long.
func (h *Hasher) VerifyNothing(password string) {
	_, _, _ = h.Verify(h.dummy, password)
}

// decode reads a PHC string of argon2id.
func decode(encoded string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, ErrMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) == 0 {
		return p, nil, nil, ErrMalformedHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 {
		return p, nil, nil, ErrMalformedHash
	}
	if p.Time == 0 || p.Threads == 0 || p.Memory < 8*uint32(p.Threads) {
		return p, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}
