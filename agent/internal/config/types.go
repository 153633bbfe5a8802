package config

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/meterline/meterline/agent/internal/snmp"
)

// Duration is a time.Duration written as a Go duration string ("15m",
// "5s"). A bare number is refused rather than read as nanoseconds.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"30s\" or \"15m\"", b)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Version is an SNMP version: "1" or "2c" (the integer 1 is accepted too).
type Version struct{ snmp.Version }

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *Version) UnmarshalText(b []byte) error {
	ver, err := snmp.ParseVersion(string(b))
	if err != nil {
		return err
	}
	v.Version = ver
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (v Version) MarshalText() ([]byte, error) { return []byte(v.Version), nil }

// Secret is a string that must not leak into logs or dumps: it prints,
// marshals and logs as "<secret>". Reveal returns the value.
type Secret string

const redacted = "<secret>"

// Reveal returns the secret itself, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// MarshalText implements encoding.TextMarshaler, for JSON and TOML dumps.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
