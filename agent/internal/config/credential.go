package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/meterline/meterline/agent/internal/snmp"
)

// DefaultCredential names the credential made of the [snmp] section when
// the file lists no [[credentials]].
const DefaultCredential = "default"

// EnvCredentialPrefix starts the environment variables that hold a
// credential's secrets: METERLINE_CREDENTIAL_<NAME>_COMMUNITY,
// _AUTH_PASSPHRASE and _PRIV_PASSPHRASE, NAME being the credential's name
// in upper case with other characters than letters and digits as '_'.
const EnvCredentialPrefix = "METERLINE_CREDENTIAL_" //nolint:gosec // G101: a prefix of variable names, not a credential

// Credential is one [[credentials]] entry: a named way to talk to
// printers, SNMPv1/v2c (a community) or SNMPv3 (a user and its keys).
type Credential struct {
	Name      string  `toml:"name"`
	Version   Version `toml:"version"`
	Community Secret  `toml:"community"`

	User           string             `toml:"user"`
	SecurityLevel  snmp.SecurityLevel `toml:"security_level"`
	AuthProtocol   snmp.AuthProtocol  `toml:"auth_protocol"`
	AuthPassphrase Secret             `toml:"auth_passphrase"`
	PrivProtocol   snmp.PrivProtocol  `toml:"priv_protocol"`
	PrivPassphrase Secret             `toml:"priv_passphrase"`
	ContextName    string             `toml:"context_name"`
}

// Params returns the credential as the snmp package takes it.
func (c Credential) Params(timeout time.Duration, retries int) snmp.Params {
	return snmp.Params{
		Version:   c.Version.Version,
		Community: c.Community.Reveal(),
		USM: snmp.USM{
			User:           c.User,
			SecurityLevel:  c.SecurityLevel,
			AuthProtocol:   c.AuthProtocol,
			AuthPassphrase: c.AuthPassphrase.Reveal(),
			PrivProtocol:   c.PrivProtocol,
			PrivPassphrase: c.PrivPassphrase.Reveal(),
			ContextName:    c.ContextName,
		},
		Timeout: timeout,
		Retries: retries,
	}
}

// EnvName is the environment variable that holds the given secret of the
// credential named name ("AUTH_PASSPHRASE", "PRIV_PASSPHRASE",
// "COMMUNITY").
func EnvName(name, secret string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(name) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return EnvCredentialPrefix + b.String() + "_" + secret
}

// fromEnv takes the credential's secrets from the environment, which wins
// over the file.
func (c *Credential) fromEnv(getenv func(string) string) {
	for secret, to := range map[string]*Secret{
		"COMMUNITY":       &c.Community,
		"AUTH_PASSPHRASE": &c.AuthPassphrase,
		"PRIV_PASSPHRASE": &c.PrivPassphrase,
	} {
		if v := getenv(EnvName(c.Name, secret)); v != "" {
			*to = Secret(v)
		}
	}
}

// validateCredentials checks each [[credentials]] entry, naming it and the
// key at fault.
func validateCredentials(creds []Credential) []error {
	var errs []error
	seen := map[string]int{}
	for i, c := range creds {
		key := fmt.Sprintf("credentials[%d]", i)
		if c.Name != "" {
			key += fmt.Sprintf(" (%s)", c.Name)
		}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf(key+"."+format, args...))
		}
		switch {
		case c.Name == "":
			bad("name: must be set; it names the credential in discovery results and logs")
		case !validCredentialName(c.Name):
			bad("name: %q must be 1 to 64 letters, digits, '.', '_' or '-'", c.Name)
		}
		// Names that share an environment variable would share secrets.
		if j, dup := seen[EnvName(c.Name, "")]; dup && c.Name != "" {
			bad("name: %q is the name of credentials[%d] too", c.Name, j)
		}
		seen[EnvName(c.Name, "")] = i

		switch c.Version.Version {
		case snmp.Version1, snmp.Version2c:
			if c.Community == "" {
				bad("community: must be set for SNMP version %s (or set %s)", c.Version.Version, EnvName(c.Name, "COMMUNITY"))
			}
			if c.User != "" || c.SecurityLevel != "" || c.AuthProtocol != "" || c.AuthPassphrase != "" || c.PrivProtocol != "" || c.PrivPassphrase != "" {
				bad("user: the SNMPv3 keys (user, security_level, auth_*, priv_*) are set, but version is %q: set version = \"3\"", c.Version.Version)
			}
		case snmp.Version3:
			errs = append(errs, validateUSM(key, c)...)
		default:
			bad("version: must be set to 1, \"2c\" or \"3\"")
		}
	}
	return errs
}

func validateUSM(key string, c Credential) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(key+"."+format, args...)) }
	if c.Community != "" {
		bad("community: SNMPv3 has no community; use user and the passphrases")
	}
	if c.User == "" {
		bad("user: must be set for SNMP version 3")
	}
	if c.SecurityLevel == "" {
		bad("security_level: must be set for SNMP version 3: noAuthNoPriv, authNoPriv or authPriv")
		return errs
	}
	auth := c.SecurityLevel == snmp.AuthNoPriv || c.SecurityLevel == snmp.AuthPriv
	priv := c.SecurityLevel == snmp.AuthPriv
	for _, k := range []struct {
		name     string
		set      bool
		needed   bool
		want     string
		envValue string
	}{
		{"auth_protocol", c.AuthProtocol != "", auth, "MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512", ""},
		{"auth_passphrase", c.AuthPassphrase != "", auth, "at least 8 characters", EnvName(c.Name, "AUTH_PASSPHRASE")},
		{"priv_protocol", c.PrivProtocol != "", priv, "DES, AES, AES-192, AES-256, AES-192C or AES-256C", ""},
		{"priv_passphrase", c.PrivPassphrase != "", priv, "at least 8 characters", EnvName(c.Name, "PRIV_PASSPHRASE")},
	} {
		switch {
		case k.needed && !k.set && k.envValue != "":
			bad("%s: must be set for security_level %s (%s), here or in %s", k.name, c.SecurityLevel, k.want, k.envValue)
		case k.needed && !k.set:
			bad("%s: must be set for security_level %s (%s)", k.name, c.SecurityLevel, k.want)
		case !k.needed && k.set:
			bad("%s: set, but security_level %s does not use it", k.name, c.SecurityLevel)
		}
	}
	for _, p := range []struct {
		name string
		set  bool
		text Secret
	}{{"auth_passphrase", auth, c.AuthPassphrase}, {"priv_passphrase", priv, c.PrivPassphrase}} {
		if p.set && p.text != "" && len(p.text) < 8 {
			bad("%s: shorter than 8 characters, which SNMPv3 (RFC 3414) refuses", p.name)
		}
	}
	return errs
}

func validCredentialName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// credential converts the i-th [[credentials]] entry as written, naming the
// key of each value that does not parse.
func (f fileCredential) credential(i int) (Credential, error) {
	c := Credential{
		Name:           f.Name,
		Community:      f.Community,
		User:           f.User,
		AuthPassphrase: f.AuthPassphrase,
		PrivPassphrase: f.PrivPassphrase,
		ContextName:    f.ContextName,
	}
	key := fmt.Sprintf("credentials[%d]", i)
	if f.Name != "" {
		key += fmt.Sprintf(" (%s)", f.Name)
	}
	var errs []error
	if f.Version != nil {
		if err := parseVersion(f.Version, &c.Version); err != nil {
			errs = append(errs, fmt.Errorf("%s.version: %w", key, err))
		}
	}
	if f.SecurityLevel != "" {
		level, err := snmp.ParseSecurityLevel(f.SecurityLevel)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.security_level: %w", key, err))
		}
		c.SecurityLevel = level
	}
	if f.AuthProtocol != "" {
		p, err := snmp.ParseAuthProtocol(f.AuthProtocol)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.auth_protocol: %w", key, err))
		}
		c.AuthProtocol = p
	}
	if f.PrivProtocol != "" {
		p, err := snmp.ParsePrivProtocol(f.PrivProtocol)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.priv_protocol: %w", key, err))
		}
		c.PrivProtocol = p
	}
	return c, errors.Join(errs...)
}

// fileCredential is a [[credentials]] entry as written: the version may be
// a string or an integer, and the protocols are checked by credential.
type fileCredential struct {
	Name           string `toml:"name"`
	Version        any    `toml:"version"`
	Community      Secret `toml:"community"`
	User           string `toml:"user"`
	SecurityLevel  string `toml:"security_level"`
	AuthProtocol   string `toml:"auth_protocol"`
	AuthPassphrase Secret `toml:"auth_passphrase"`
	PrivProtocol   string `toml:"priv_protocol"`
	PrivPassphrase Secret `toml:"priv_passphrase"`
	ContextName    string `toml:"context_name"`
}

// parseVersion reads a version written as "2c", "3" or 1, 3.
func parseVersion(v any, to *Version) error {
	switch v := v.(type) {
	case string, int64:
		return to.UnmarshalText(fmt.Append(nil, v))
	default:
		return fmt.Errorf("%v is not 1, \"2c\" or 3", v)
	}
}
