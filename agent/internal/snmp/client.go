package snmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Client reads values from one SNMP agent. It is not safe for concurrent
// use: a poller opens one per device.
type Client interface {
	// Get fetches the given scalar OIDs. It returns a binding for each OID
	// the agent has, in request order; OIDs the agent does not have are left
	// out, not reported as errors.
	Get(ctx context.Context, oids []string) ([]PDU, error)
	// Walk fetches every binding below root (a table, a column or a group),
	// in the order the agent returns them.
	Walk(ctx context.Context, root string) ([]PDU, error)
	// Close releases the client's socket.
	Close() error
}

// Version is an SNMP protocol version that the agent speaks.
type Version string

// Supported versions.
const (
	Version1  Version = "1"
	Version2c Version = "2c"
	Version3  Version = "3"
)

// ParseVersion accepts "1", "2c" and "3" (and the "v1", "v2c", "v3"
// spellings).
func ParseVersion(s string) (Version, error) {
	switch s {
	case "1", "v1":
		return Version1, nil
	case "2c", "v2c":
		return Version2c, nil
	case "3", "v3":
		return Version3, nil
	default:
		return "", fmt.Errorf("SNMP version %q is not supported (use 1, 2c or 3)", s)
	}
}

// DefaultPort is where SNMP agents listen.
const DefaultPort = 161

// DefaultMaxRepetitions is how many bindings one GetBulk asks for. Printers
// with small buffers answer tooBig to large requests; the walk halves it then.
const DefaultMaxRepetitions = 25

// Defaults of the SNMP settings a configuration leaves out: the one
// credential of an agent that lists none, and how long and how often a
// request is tried.
const (
	DefaultVersion   = Version2c
	DefaultCommunity = "public"
	DefaultTimeout   = 5 * time.Second
	DefaultRetries   = 1
)

// Params says how to talk to an agent. Community is for SNMPv1 and v2c;
// the USM fields are for SNMPv3. String redacts the secrets, so Params may
// be logged.
type Params struct {
	Version   Version
	Community string
	USM
	// Timeout is how long to wait for each response; Retries is how many
	// times a request is sent again after a timeout.
	Timeout time.Duration
	Retries int
	// MaxRepetitions bounds each GetBulk; 0 (or a value past the protocol's
	// 2^31-1) means DefaultMaxRepetitions.
	MaxRepetitions int
}

// String describes the parameters without their secrets.
func (p Params) String() string {
	if p.Version == Version3 {
		return fmt.Sprintf("SNMPv3 user %q, %s, timeout %s, %d retries", p.User, p.USM.describe(), p.Timeout, p.Retries)
	}
	return fmt.Sprintf("SNMPv%s community %s, timeout %s, %d retries", p.Version, redact(p.Community), p.Timeout, p.Retries)
}

// GoString keeps %#v from printing the secrets.
func (p Params) GoString() string { return "snmp.Params{" + p.String() + "}" }

// LogValue implements slog.LogValuer: slog's JSON handler would otherwise
// print every field.
func (p Params) LogValue() slog.Value { return slog.StringValue(p.String()) }

// MarshalText implements encoding.TextMarshaler, so that JSON dumps show
// the description, not the secrets.
func (p Params) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// Validate checks that the parameters are complete for their version.
func (p Params) Validate() error {
	switch p.Version {
	case Version1, Version2c:
		if p.Community == "" {
			return errors.New("the community is empty")
		}
		return nil
	case Version3:
		return p.USM.Validate()
	default:
		return fmt.Errorf("SNMP version %q is not supported (use 1, 2c or 3)", p.Version)
	}
}

// Wait is how long a request may go unanswered before the agent is
// considered silent: every try's timeout added up.
func (p Params) Wait() time.Duration {
	return p.Timeout * time.Duration(p.Retries+1)
}

// DialFunc opens a Client to target (host or host:port). It lets callers
// swap the network for a fake in tests.
type DialFunc func(ctx context.Context, target string, p Params) (Client, error)

// NoAnswerError says that the agent sent no answer at all: the host is
// down, nothing listens on the port, or it ignores our community or
// version (SNMP agents stay silent on a wrong community).
type NoAnswerError struct {
	Target string
	Wait   time.Duration
	Err    error
}

// Error implements error.
func (e *NoAnswerError) Error() string {
	return fmt.Sprintf("no SNMP answer from %s within %s", e.Target, e.Wait)
}

// Unwrap returns the transport error underneath.
func (e *NoAnswerError) Unwrap() error { return e.Err }

// AuthError says that an SNMPv3 agent answered but refused our user or
// keys: an unknown user name, a wrong authentication passphrase (wrong
// digest), a wrong privacy passphrase (decryption error), or a security
// level the user does not have.
type AuthError struct {
	Target string
	User   string
	// Reason says what the agent reported, in words.
	Reason string
	Err    error
}

// Error implements error.
func (e *AuthError) Error() string {
	return fmt.Sprintf("SNMPv3 authentication failed for user %q at %s: %s", e.User, e.Target, e.Reason)
}

// Unwrap returns gosnmp's error underneath.
func (e *AuthError) Unwrap() error { return e.Err }

// IsAuthFailure reports whether err says that an SNMPv3 agent refused our
// credentials.
func IsAuthFailure(err error) bool {
	var ae *AuthError
	return errors.As(err, &ae)
}

// IsNoAnswer reports whether err says that the agent did not answer.
func IsNoAnswer(err error) bool {
	var na *NoAnswerError
	return errors.As(err, &na)
}

// SplitTarget splits "host[:port]" (or "[v6]:port") into host and port,
// using DefaultPort when none is given.
func SplitTarget(target string) (host string, port uint16, err error) {
	if target == "" {
		return "", 0, errors.New("empty target")
	}
	host, portText, err := net.SplitHostPort(target)
	if err != nil {
		// No port: a bare host name, IPv4 address or IPv6 address.
		bare := trimBrackets(target)
		if net.ParseIP(bare) != nil || !strings.Contains(bare, ":") {
			return bare, DefaultPort, nil
		}
		return "", 0, fmt.Errorf("target %q is not host[:port]", target)
	}
	if host == "" {
		return "", 0, fmt.Errorf("target %q has no host", target)
	}
	n, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("target %q: port %q is not 1..65535", target, portText)
	}
	return host, uint16(n), nil
}

// JoinTarget is the canonical "host:port" form of a target.
func JoinTarget(target string) (string, error) {
	host, port, err := SplitTarget(target)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port))), nil
}

func trimBrackets(s string) string {
	if len(s) > 1 && s[0] == '[' && s[len(s)-1] == ']' {
		return s[1 : len(s)-1]
	}
	return s
}
