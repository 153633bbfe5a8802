package printer_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/meterline/meterline/agent/internal/printer"
	"github.com/meterline/meterline/agent/internal/snmp"
)

// hostileSeed is a printer in few lines with the values that once broke
// decoding: 8-byte levels, Counter64 above int64, a string for a level, a
// negative counter, OIDs that go back.
const hostileSeed = `1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.1602.4.7
1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.5
1.3.6.1.2.1.43.11.1.1.9.1.1|2|144115188075855872
1.3.6.1.2.1.43.11.1.1.8.1.1|2|288230376151711744
1.3.6.1.2.1.43.11.1.1.9.1.2|70|18446744073709551615
1.3.6.1.2.1.43.11.1.1.8.1.2|2|100
1.3.6.1.2.1.43.11.1.1.9.1.3|4|80
1.3.6.1.2.1.43.10.2.1.3.1.1|2|7
1.3.6.1.2.1.43.10.2.1.4.1.1|2|-5
1.3.6.1.4.1.1602.1.11.1.3.1.4.112|70|9223372036854775807
1.3.6.1.4.1.1602.1.11.1.3.1.4.113|65|10
`

// FuzzDecode feeds Decode arbitrary SNMP values, written as snmprec lines
// but parsed leniently (see fuzzPDUs): any type at any OID, 64-bit
// integers of every type, huge strings, OIDs in any order and repeated. It
// must never panic, and every read it returns must pass the wire's
// validation with the agent's own address and time and be left as it is by
// Clean: decode itself never publishes a negative counter, a percent
// outside 0..100 or text beyond its bound.
//
//	go test ./agent/internal/printer -run '^$' -fuzz FuzzDecode -fuzztime 60s
func FuzzDecode(f *testing.F) {
	for _, dir := range []string{"quirks", "profiles"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.snmprec"))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(hostileSeed))

	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := (printer.Reader{}).Decode(printer.NewSnapshot(fuzzPDUs(data)))
		if err != nil {
			var notPrinter *printer.NotPrinterError
			if !errors.As(err, &notPrinter) {
				t.Fatalf("Decode failed with %v, want a read or a NotPrinterError", err)
			}
			return
		}
		r.Address, r.ReadAt = "127.0.0.1:161", readAt
		if err := r.Validate(readAt); err != nil {
			t.Fatalf("the read fails the wire's validation: %v\n%s", err, jsonOf(r))
		}
		if cleaned, changed := r.Clean(); len(changed) > 0 || !reflect.DeepEqual(cleaned, r) {
			t.Fatalf("Clean changed the read: %v\n%s", changed, jsonOf(r))
		}
	})
}

// fuzzPDUs reads "OID|TAG|VALUE" lines as the bindings gosnmp and
// snmp.convert could hand Decode, accepting what snmptest refuses: a tag
// that is no SNMP type makes an OctetString, an integer that does not
// parse makes an OctetString of its text (a wrong type), and an unsigned
// value above int64 stays a uint64.
func fuzzPDUs(data []byte) []snmp.PDU {
	var out []snmp.PDU
	for line := range bytes.Lines(data) {
		oid, rest, _ := strings.Cut(strings.TrimRight(string(line), "\r\n"), "|")
		tag, value, _ := strings.Cut(rest, "|")
		p := snmp.PDU{OID: snmp.NormalizeOID(oid), Type: snmp.TypeOctetString, Value: []byte(value)}
		switch tag {
		case "2":
			if v, err := strconv.ParseInt(value, 10, 64); err == nil {
				p.Type, p.Value = snmp.TypeInteger, v
			}
		case "65", "66", "67":
			if v, err := strconv.ParseUint(value, 10, 64); err == nil {
				p.Type = map[string]snmp.Type{"65": snmp.TypeCounter32, "66": snmp.TypeGauge32, "67": snmp.TypeTimeTicks}[tag]
				p.Value = any(int64(v)) //nolint:gosec // checked just below
				if v > math.MaxInt64 {
					p.Value = v
				}
			}
		case "70":
			if v, err := strconv.ParseUint(value, 10, 64); err == nil {
				p.Type, p.Value = snmp.TypeCounter64, v
			}
		case "4x":
			if b, err := hex.DecodeString(value); err == nil {
				p.Value = b
			}
		case "5":
			p.Type, p.Value = snmp.TypeNull, nil
		case "6":
			p.Type, p.Value = snmp.TypeObjectID, snmp.NormalizeOID(value)
		case "64":
			p.Type, p.Value = snmp.TypeIPAddress, value
		}
		out = append(out, p)
	}
	return out
}
