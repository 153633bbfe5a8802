package broker

import (
	"bufio"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Passwords are the users of a password file in the format of Mosquitto
// 2.0's mosquitto_passwd, one user:hash line each, so that one file (made
// by deploy/mosquitto/add-agent.sh or mosquitto_passwd) serves either
// broker:
//
//	site-01:$7$101$<salt, base64>$<PBKDF2-HMAC-SHA512 of the password, base64>
//
// Blank lines and lines starting with '#' are skipped.
type Passwords struct {
	users map[string]pbkdf2Hash
}

// pbkdf2Hash is a $7$ hash: PBKDF2 with HMAC-SHA512.
type pbkdf2Hash struct {
	iterations int
	salt, key  []byte
}

// Bounds of a $7$ hash: mosquitto_passwd writes 101 iterations, a 12-byte
// salt and a 64-byte key. The iteration bound keeps a hostile file from
// making each login cost seconds.
const (
	hashIterations    = 101
	hashSaltBytes     = 12
	hashKeyBytes      = sha512.Size
	maxHashIterations = 1_000_000
)

// ReadPasswordFile reads a password file (see Passwords).
func ReadPasswordFile(path string) (*Passwords, error) {
	f, err := os.Open(path) //nolint:gosec // the operator names the password file
	if err != nil {
		return nil, fmt.Errorf("broker password file: %w", err)
	}
	defer f.Close()
	p, err := ParsePasswords(f)
	if err != nil {
		return nil, fmt.Errorf("broker password file %s: %w", path, err)
	}
	return p, nil
}

// ParsePasswords reads the lines of a password file. Its errors name the
// line and the user, never the hash.
func ParsePasswords(r io.Reader) (*Passwords, error) {
	p := &Passwords{users: map[string]pbkdf2Hash{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, encoded, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("line %d: want user:hash", n)
		}
		if _, dup := p.users[user]; dup {
			return nil, fmt.Errorf("line %d: user %q is listed twice", n, user)
		}
		h, err := parseHash(encoded)
		if err != nil {
			return nil, fmt.Errorf("line %d, user %q: %w", n, user, err)
		}
		p.users[user] = h
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

func parseHash(encoded string) (pbkdf2Hash, error) {
	parts := strings.Split(encoded, "$")
	// "$7$101$salt$key" splits into "", "7", "101", salt, key.
	if len(parts) != 5 || parts[0] != "" || parts[1] != "7" {
		return pbkdf2Hash{}, errors.New("want a mosquitto_passwd hash of Mosquitto 2.0 ($7$…); older or plain-text entries are not read")
	}
	iterations, err := strconv.Atoi(parts[2])
	if err != nil || iterations < 1 || iterations > maxHashIterations {
		return pbkdf2Hash{}, fmt.Errorf("iteration count %q: want 1 to %d", parts[2], maxHashIterations)
	}
	salt, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil || len(salt) == 0 {
		return pbkdf2Hash{}, errors.New("salt is not base64")
	}
	key, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(key) != hashKeyBytes {
		return pbkdf2Hash{}, fmt.Errorf("hash is not %d bytes of base64", hashKeyBytes)
	}
	return pbkdf2Hash{iterations: iterations, salt: salt, key: key}, nil
}

// Len is the number of users.
func (p *Passwords) Len() int { return len(p.users) }

// Has reports whether user is in the file.
func (p *Passwords) Has(user string) bool {
	_, ok := p.users[user]
	return ok
}

// Check reports whether password is user's. An unknown user costs the same
// work as a known one, so that timing does not tell which users exist.
func (p *Passwords) Check(user, password string) bool {
	h, known := p.users[user]
	if !known {
		h = pbkdf2Hash{iterations: hashIterations, salt: make([]byte, hashSaltBytes), key: make([]byte, hashKeyBytes)}
	}
	got, err := pbkdf2.Key(sha512.New, password, h.salt, h.iterations, len(h.key))
	return err == nil && subtle.ConstantTimeCompare(got, h.key) == 1 && known
}

// HashPassword returns a password file line for user, as mosquitto_passwd
// writes it.
func HashPassword(user, password string) (string, error) {
	salt := make([]byte, hashSaltBytes)
	rand.Read(salt)
	key, err := pbkdf2.Key(sha512.New, password, salt, hashIterations, hashKeyBytes)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return fmt.Sprintf("%s:$7$%d$%s$%s", user, hashIterations,
		base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key)), nil
}
