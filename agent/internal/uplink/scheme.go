package uplink

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/meterline/meterline/shared/redact"
)

// DefaultURL is the broker of an agent whose configuration names none.
const DefaultURL = "tcp://127.0.0.1:1883"

// brokerSchemes are the broker URL schemes the agent accepts, each with
// whether it means TLS: the schemes paho dials, less unix://. The
// configuration's validation and the connection both read this table.
var brokerSchemes = []struct {
	name string
	tls  bool
}{
	{"tcp", false},
	{"mqtt", false},
	{"ws", false},
	{"ssl", true},
	{"tls", true},
	{"mqtts", true},
	{"mqtt+ssl", true},
	{"tcps", true},
	{"wss", true},
}

// TLSScheme reports whether a broker URL scheme means TLS.
func TLSScheme(scheme string) bool {
	for _, s := range brokerSchemes {
		if s.name == scheme {
			return s.tls
		}
	}
	return false
}

// SchemeList names the accepted schemes, all or the TLS ones only, as
// "a://, b:// or c://", for messages.
func SchemeList(tlsOnly bool) string {
	var names []string
	for _, s := range brokerSchemes {
		if s.tls || !tlsOnly {
			names = append(names, s.name+"://")
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// CheckURL reports whether raw is a broker URL the agent can dial: one of
// the accepted schemes, and a host.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", redact.URL(raw), redact.ParseError(err))
	}
	known := false
	for _, s := range brokerSchemes {
		known = known || s.name == u.Scheme
	}
	if !known {
		return fmt.Errorf("%q: scheme must be %s", redact.URL(raw), SchemeList(false))
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q has no host", redact.URL(raw))
	}
	return nil
}
