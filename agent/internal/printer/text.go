package printer

import (
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/meterline/meterline/agent/internal/profile"
)

// cleanText turns an OCTET STRING from a printer into display text.
//
// Printers pad strings with NULs (many HP and Kyocera models) and some
// send a description as two lines, the second a hex dump of the first (HP);
// a few hand out the hex dump alone. Text that is not UTF-8 is taken as
// Latin-1, which is what European firmware sends.
func cleanText(b []byte) string {
	s := decodeBytes(b)
	s = strings.ReplaceAll(s, "\x00", "")
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	kept := lines[:0]
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || (i > 0 && len(kept) > 0 && isHexDump(line)) {
			continue
		}
		kept = append(kept, line)
	}
	s = strings.Join(kept, " ")
	if text, ok := decodeHexDump(s); ok {
		s = text
	}
	// Collapse control characters and runs of blanks.
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}

func decodeBytes(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	runes := make([]rune, len(b))
	for i, c := range b {
		runes[i] = rune(c)
	}
	return string(runes)
}

// isHexDump reports whether s looks like "42 6C 61 63 6B" or "426C61636B":
// an even number of hex digits, at least four bytes' worth.
func isHexDump(s string) bool {
	digits := strings.ReplaceAll(s, " ", "")
	if len(digits) < 8 || len(digits)%2 != 0 {
		return false
	}
	for _, r := range digits {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	// A pure number ("12345678") is more likely a value than a dump.
	return strings.Contains(s, " ") || strings.ContainsAny(digits, "abcdefABCDEF")
}

// decodeHexDump decodes a space-separated hex dump of printable text, as
// some agents send instead of the text itself.
func decodeHexDump(s string) (string, bool) {
	if !strings.Contains(s, " ") || !isHexDump(s) {
		return "", false
	}
	for _, f := range strings.Fields(s) {
		if len(f) != 2 {
			return "", false
		}
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		return "", false
	}
	b = []byte(strings.TrimRight(string(b), "\x00"))
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return "", false
		}
	}
	return string(b), len(b) > 0
}

// decodeText decodes an identity value the way its profile says.
func decodeText(b []byte, decoder string) string {
	switch decoder {
	case profile.DecodeHP:
		return hpText(b)
	case profile.DecodeIEEE1284:
		return ieee1284Model(cleanText(b))
	default:
		return cleanText(b)
	}
}

// hpText decodes HP-LASERJET-COMMON-MIB strings (model-name, serial-number):
// a 01 15 prefix, then text; longer text breaks onto a second line written
// as a hex dump of the rest ("HP LaserJet MF\n50 20 4D 31 33 30 6E 77" is
// "HP LaserJet MFP M130nw").
func hpText(b []byte) string {
	b = []byte(strings.TrimLeft(string(b), "\x01\x15"))
	head, tail, found := strings.Cut(string(b), "\n")
	if found {
		if rest, ok := hexPairs(strings.TrimSpace(tail)); ok {
			return cleanText([]byte(head + rest))
		}
	}
	return cleanText(b)
}

// hexPairs decodes "50 20 4D" (space-separated byte pairs) to text.
func hexPairs(s string) (string, bool) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return "", false
	}
	out := make([]byte, 0, len(fields))
	for _, f := range fields {
		b, err := hex.DecodeString(f)
		if err != nil || len(b) != 1 {
			return "", false
		}
		out = append(out, b[0])
	}
	return string(out), true
}

// ieee1284Model takes the model from an IEEE 1284 device ID
// ("MFG:Xerox;MDL:AltaLink C8045;…"), which names it MDL or MODEL.
func ieee1284Model(id string) string {
	for _, field := range strings.Split(id, ";") {
		key, value, ok := strings.Cut(field, ":")
		if !ok {
			continue
		}
		switch strings.ToUpper(strings.TrimSpace(key)) {
		case "MDL", "MODEL":
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// boundText cuts display text to at most max bytes on a character
// boundary: a device that sends kilobytes of description is read with
// the first max bytes of it (wire.MaxTextLen and its kin are the bounds).
func boundText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "")
}
