package snmp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// SecurityLevel is an SNMPv3 security level (RFC 3411).
type SecurityLevel string

// Security levels, spelled as net-snmp spells them.
const (
	NoAuthNoPriv SecurityLevel = "noAuthNoPriv"
	AuthNoPriv   SecurityLevel = "authNoPriv"
	AuthPriv     SecurityLevel = "authPriv"
)

// ParseSecurityLevel accepts noAuthNoPriv, authNoPriv and authPriv, in any
// case.
func ParseSecurityLevel(s string) (SecurityLevel, error) {
	for _, l := range []SecurityLevel{NoAuthNoPriv, AuthNoPriv, AuthPriv} {
		if strings.EqualFold(s, string(l)) {
			return l, nil
		}
	}
	return "", fmt.Errorf("security level %q is not noAuthNoPriv, authNoPriv or authPriv", s)
}

// AuthProtocol is an SNMPv3 authentication protocol.
type AuthProtocol string

// Authentication protocols. The SHA-2 ones are RFC 7860's HMAC-SHA-2.
const (
	AuthMD5    AuthProtocol = "MD5"
	AuthSHA    AuthProtocol = "SHA"
	AuthSHA224 AuthProtocol = "SHA-224"
	AuthSHA256 AuthProtocol = "SHA-256"
	AuthSHA384 AuthProtocol = "SHA-384"
	AuthSHA512 AuthProtocol = "SHA-512"
)

var authProtocols = map[AuthProtocol]gosnmp.SnmpV3AuthProtocol{
	AuthMD5:    gosnmp.MD5,
	AuthSHA:    gosnmp.SHA,
	AuthSHA224: gosnmp.SHA224,
	AuthSHA256: gosnmp.SHA256,
	AuthSHA384: gosnmp.SHA384,
	AuthSHA512: gosnmp.SHA512,
}

// ParseAuthProtocol accepts MD5, SHA (SHA-1), SHA-224, SHA-256, SHA-384 and
// SHA-512, in any case and with or without the dash ("SHA256" is what
// net-snmp and snmpsim call it).
func ParseAuthProtocol(s string) (AuthProtocol, error) {
	key := canonicalProtocol(s)
	if key == "SHA1" {
		key = "SHA"
	}
	for p := range authProtocols {
		if canonicalProtocol(string(p)) == key {
			return p, nil
		}
	}
	return "", fmt.Errorf("authentication protocol %q is not MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512", s)
}

// PrivProtocol is an SNMPv3 privacy (encryption) protocol.
type PrivProtocol string

// Privacy protocols. AES is AES-128 (RFC 3826). AES-192 and AES-256 localise
// their longer keys the Blumenthal way (draft-blumenthal-aes-usm, as
// net-snmp and most devices do); the "C" variants the Reeder way, which
// Cisco devices use.
const (
	PrivDES     PrivProtocol = "DES"
	PrivAES     PrivProtocol = "AES"
	PrivAES192  PrivProtocol = "AES-192"
	PrivAES256  PrivProtocol = "AES-256"
	PrivAES192C PrivProtocol = "AES-192C"
	PrivAES256C PrivProtocol = "AES-256C"
)

var privProtocols = map[PrivProtocol]gosnmp.SnmpV3PrivProtocol{
	PrivDES:     gosnmp.DES,
	PrivAES:     gosnmp.AES,
	PrivAES192:  gosnmp.AES192,
	PrivAES256:  gosnmp.AES256,
	PrivAES192C: gosnmp.AES192C,
	PrivAES256C: gosnmp.AES256C,
}

// ParsePrivProtocol accepts DES, AES (or AES-128), AES-192, AES-256,
// AES-192C and AES-256C, in any case and with or without the dash.
func ParsePrivProtocol(s string) (PrivProtocol, error) {
	key := canonicalProtocol(s)
	if key == "AES128" {
		key = "AES"
	}
	for p := range privProtocols {
		if canonicalProtocol(string(p)) == key {
			return p, nil
		}
	}
	return "", fmt.Errorf("privacy protocol %q is not DES, AES, AES-192, AES-256, AES-192C or AES-256C", s)
}

func canonicalProtocol(s string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", "_", "", " ", "").Replace(s))
}

// minPassphrase is the shortest passphrase RFC 3414 (section 11.2) allows;
// net-snmp agents refuse shorter ones, so a shorter one cannot work.
const minPassphrase = 8

// USM is the SNMPv3 user-based security: who we are, and the keys.
type USM struct {
	User          string
	SecurityLevel SecurityLevel
	AuthProtocol  AuthProtocol
	// AuthPassphrase and PrivPassphrase are secrets: Params.String never
	// shows them, and neither do gosnmp's logs (we give it none).
	AuthPassphrase string
	PrivProtocol   PrivProtocol
	PrivPassphrase string
	// ContextName selects a context on the agent; most printers use the
	// empty default, some HP Jetdirects want "Jetdirect".
	ContextName string
}

// Validate checks that the settings are complete for the security level.
func (u USM) Validate() error {
	var errs []error
	if u.User == "" {
		errs = append(errs, errors.New("the SNMPv3 user name is empty"))
	}
	level := u.level()
	if level != NoAuthNoPriv && level != AuthNoPriv && level != AuthPriv {
		errs = append(errs, fmt.Errorf("security level %q is not noAuthNoPriv, authNoPriv or authPriv", u.SecurityLevel))
	}
	if level == AuthNoPriv || level == AuthPriv {
		if _, ok := authProtocols[u.AuthProtocol]; !ok {
			errs = append(errs, fmt.Errorf("security level %s needs an authentication protocol (MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512), got %q", level, u.AuthProtocol))
		}
		if len(u.AuthPassphrase) < minPassphrase {
			errs = append(errs, fmt.Errorf("security level %s needs an authentication passphrase of at least %d characters", level, minPassphrase))
		}
	}
	if level == AuthPriv {
		if _, ok := privProtocols[u.PrivProtocol]; !ok {
			errs = append(errs, fmt.Errorf("security level authPriv needs a privacy protocol (DES, AES, AES-192, AES-256, AES-192C or AES-256C), got %q", u.PrivProtocol))
		}
		if len(u.PrivPassphrase) < minPassphrase {
			errs = append(errs, fmt.Errorf("security level authPriv needs a privacy passphrase of at least %d characters", minPassphrase))
		}
	}
	return errors.Join(errs...)
}

// level is the security level, authPriv... deduced when not given: the
// strongest one the settings allow.
func (u USM) level() SecurityLevel {
	switch {
	case u.SecurityLevel != "":
		return u.SecurityLevel
	case u.PrivProtocol != "" || u.PrivPassphrase != "":
		return AuthPriv
	case u.AuthProtocol != "" || u.AuthPassphrase != "":
		return AuthNoPriv
	default:
		return NoAuthNoPriv
	}
}

// describe names the level and protocols, never the passphrases.
func (u USM) describe() string {
	switch level := u.level(); level {
	case AuthPriv:
		return fmt.Sprintf("%s %s/%s", level, u.AuthProtocol, u.PrivProtocol)
	case AuthNoPriv:
		return fmt.Sprintf("%s %s", level, u.AuthProtocol)
	default:
		return string(level)
	}
}

// apply sets the SNMPv3 fields of a gosnmp connection. Engine discovery
// (the agent's engine ID, boots and time) is gosnmp's job: it runs on the
// first request.
func (u USM) apply(conn *gosnmp.GoSNMP) error {
	if err := u.Validate(); err != nil {
		return err
	}
	sp := &gosnmp.UsmSecurityParameters{
		UserName:               u.User,
		AuthenticationProtocol: gosnmp.NoAuth,
		PrivacyProtocol:        gosnmp.NoPriv,
	}
	flags := gosnmp.NoAuthNoPriv
	level := u.level()
	if level == AuthNoPriv || level == AuthPriv {
		flags = gosnmp.AuthNoPriv
		sp.AuthenticationProtocol = authProtocols[u.AuthProtocol]
		sp.AuthenticationPassphrase = u.AuthPassphrase
	}
	if level == AuthPriv {
		flags = gosnmp.AuthPriv
		sp.PrivacyProtocol = privProtocols[u.PrivProtocol]
		sp.PrivacyPassphrase = u.PrivPassphrase
	}
	conn.Version = gosnmp.Version3
	conn.SecurityModel = gosnmp.UserSecurityModel
	// Reportable: the agent is to answer errors with a Report PDU, which is
	// how we learn of an unknown user or a wrong key instead of timing out.
	conn.MsgFlags = flags | gosnmp.Reportable
	conn.SecurityParameters = sp
	conn.ContextName = u.ContextName
	return nil
}

// redact shows whether a secret is set, never what it is.
func redact(secret string) string {
	if secret == "" {
		return `""`
	}
	return "<secret>"
}

// Credential is a named way to talk to agents: the name is what an
// operator calls it in the configuration and sees in discovery results.
type Credential struct {
	Name   string
	Params Params
}

// String names the credential and describes it without its secrets.
func (c Credential) String() string { return c.Name + " (" + c.Params.String() + ")" }
