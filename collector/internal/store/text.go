package store

import (
	"fmt"
	"strings"

	segjson "github.com/segmentio/encoding/json"
)

// text makes a string storable on both dialects. PostgreSQL text cannot
// hold a NUL byte, and printers pad their strings with NULs; they carry no
// meaning, so they go. Invalid UTF-8 (only possible from a caller other
// than the JSON decoder) becomes U+FFFD.
func text(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// jsonText encodes v for a JSON column. PostgreSQL json and jsonb refuse
// the escape \u0000, so it is dropped, as text drops NUL bytes. Every read
// of the fleet is encoded here (counters, supplies, status): segmentio's
// encoder writes what encoding/json writes, at a fraction of its cost.
func jsonText(v any) (string, error) {
	b, err := segjson.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %T: %w", v, err)
	}
	return string(dropEscapedNUL(b)), nil
}

// dropEscapedNUL removes every \u0000 escape from encoded JSON. Outside
// strings encoding/json writes no backslash, and inside them each escape is
// read whole, so an escaped backslash followed by "u0000" is left alone.
func dropEscapedNUL(b []byte) []byte {
	if !strings.Contains(string(b), `\u0000`) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		switch {
		case b[i] != '\\' || i+1 >= len(b):
			out = append(out, b[i])
			i++
		case b[i+1] == 'u' && i+6 <= len(b):
			if string(b[i:i+6]) != `\u0000` {
				out = append(out, b[i:i+6]...)
			}
			i += 6
		default:
			out = append(out, b[i:i+2]...)
			i += 2
		}
	}
	return out
}
