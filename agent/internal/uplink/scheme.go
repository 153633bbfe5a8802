package uplink

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/meterline/meterline/shared/redact"
)

// DefaultURL is the broker of an agent whose configuration names none.
const DefaultURL = "tcp://127.0.0.1:1883"

// The broker URL schemes the agent accepts, plain and TLS: those paho
// dials, less unix://. The configuration's validation and its messages
// and the connection all read these lists.
const (
	PlainSchemes = "tcp://, mqtt://, ws://"
	TLSSchemes   = "ssl://, tls://, mqtts://, mqtt+ssl://, tcps://, wss://"
)

// TLSScheme reports whether a broker URL scheme means TLS.
func TLSScheme(scheme string) bool { return inList(TLSSchemes, scheme) }

// inList reports whether scheme is in list, one of the lists above.
func inList(list, scheme string) bool {
	return strings.Contains(", "+list+",", " "+scheme+"://,")
}

// CheckURL reports whether raw is a broker URL the agent can dial: one of
// the accepted schemes, and a host.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	shown := redact.URL(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: %w", shown, redact.ParseError(err))
	case !inList(PlainSchemes, u.Scheme) && !TLSScheme(u.Scheme):
		return fmt.Errorf("%q: scheme must be %s, %s", shown, PlainSchemes, TLSSchemes)
	case u.Hostname() == "":
		return fmt.Errorf("%q has no host", shown)
	}
	return nil
}
