// Package snmprec reads snmpsim's recording format: one "OID|type|value"
// record per line, as written by snmprec and used by LibreNMS's test data.
// It is the one parser of the format in Meterline: the simulator serves
// what it reads, and the agent's fake SNMP client (agent/internal/snmp/snmptest,
// test-only) converts the same records, so both read every file alike.
package snmprec

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Record is one line of a recording: an OID and the value served for it.
type Record struct {
	OID   OID
	Value Value
	// Line is the 1-based line the record came from (0 when built in code).
	Line int
}

// String formats the record as an snmprec line.
func (r Record) String() string {
	tag, text := r.Value.text()
	return r.OID.String() + "|" + tag + "|" + text
}

// Parse reads a recording and returns its records sorted by OID (numerically,
// arc by arc: recordings sorted as text put 1.3.6.1.10 before 1.3.6.1.2).
// Blank lines and lines starting with '#' are skipped. The first bad line
// stops parsing with an error that names source and line. A record repeated
// with the same type and value is kept once (some recorders write a row
// twice); the same OID with a different value is an error, because a walk
// could serve either.
//
// Types: 2 Integer32, 4 OCTET STRING, 5 NULL, 6 OBJECT IDENTIFIER,
// 64 IpAddress, 65 Counter32, 66 Gauge32, 67 TimeTicks, 70 Counter64. An "x"
// after the type means the value is hex: the raw bytes for OCTET STRING and
// IpAddress, the hex of the usual text for the others (as snmpsim reads it).
// An OBJECT IDENTIFIER value of "0" is read as zeroDotZero (0.0).
func Parse(r io.Reader, source string) ([]Record, error) {
	return parse(r, source, func(err error) error { return err })
}

// ParseTolerant is Parse that skips lines that do not parse, passing each
// one's error (which names source and line) to skipped. Real recordings
// occasionally carry a corrupt value: LibreNMS's okilan_9450g.snmprec has a
// Counter32 of "6git3159". Read errors and conflicting duplicates still fail.
func ParseTolerant(r io.Reader, source string, skipped func(error)) ([]Record, error) {
	return parse(r, source, func(err error) error {
		if skipped != nil {
			skipped(err)
		}
		return nil
	})
}

// parse reads records; badLine decides whether a line's error stops the
// parse (returned) or skips the line (nil).
func parse(r io.Reader, source string, badLine func(error) error) ([]Record, error) {
	reader := bufio.NewReader(r)
	var records []Record
	for lineNo := 1; ; lineNo++ {
		line, readErr := reader.ReadString('\n')
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return nil, fmt.Errorf("read %s: %w", source, readErr)
		}
		line = strings.TrimRight(line, "\r\n")
		if line != "" && !strings.HasPrefix(line, "#") {
			rec, err := parseLine(line)
			if err == nil {
				rec.Line = lineNo
				records = append(records, rec)
			} else if err := badLine(fmt.Errorf("%s:%d: %w", source, lineNo, err)); err != nil {
				return nil, err
			}
		}
		if readErr != nil {
			break
		}
	}
	return SortRecords(records, source)
}

// SortRecords sorts records by OID in place and removes exact duplicates. It
// returns an error when one OID carries two different values; source names
// the origin in that error.
func SortRecords(records []Record, source string) ([]Record, error) {
	slices.SortStableFunc(records, func(a, b Record) int { return Compare(a.OID, b.OID) })
	out := records[:0]
	for i, rec := range records {
		if i > 0 && rec.OID.Equal(out[len(out)-1].OID) {
			prev := out[len(out)-1]
			if !prev.Value.Equal(rec.Value) {
				return nil, fmt.Errorf("%s:%d: OID %s already has a different value on line %d",
					source, rec.Line, rec.OID, prev.Line)
			}
			continue
		}
		out = append(out, rec)
	}
	return out, nil
}

func parseLine(line string) (Record, error) {
	oidText, rest, ok := strings.Cut(line, "|")
	if !ok {
		return Record{}, errors.New(`want "OID|type|value"`)
	}
	// The value may itself contain '|': only the first two separate fields.
	tag, text, ok := strings.Cut(rest, "|")
	if !ok {
		return Record{}, errors.New(`want "OID|type|value"`)
	}
	oid, err := ParseOID(strings.TrimSpace(oidText))
	if err != nil {
		return Record{}, err
	}
	value, err := parseValue(tag, text)
	if err != nil {
		return Record{}, fmt.Errorf("OID %s: %w", oid, err)
	}
	return Record{OID: oid, Value: value}, nil
}

func parseValue(tag, text string) (Value, error) {
	hexEncoded := strings.HasSuffix(tag, "x")
	code, err := strconv.ParseUint(strings.TrimSuffix(tag, "x"), 10, 8)
	if err != nil {
		return Value{}, fmt.Errorf("unknown type %q", tag)
	}
	typ := Type(code)
	if !hexEncoded {
		return parseText(typ, text)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return Value{}, fmt.Errorf("type %s: bad hex value: %w", tag, err)
	}
	switch typ {
	case OctetString:
		return Value{Type: OctetString, Bytes: raw}, nil
	case IPAddress:
		if len(raw) != 4 {
			return Value{}, fmt.Errorf("type %s: IpAddress needs 4 bytes, got %d", tag, len(raw))
		}
		return Value{Type: IPAddress, Bytes: raw}, nil
	}
	return parseText(typ, string(raw))
}

func parseText(typ Type, text string) (Value, error) {
	switch typ {
	case OctetString:
		return Value{Type: OctetString, Bytes: []byte(text)}, nil
	case Null:
		return Value{Type: Null}, nil
	case Integer:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 32)
		if err != nil {
			return Value{}, fmt.Errorf("bad Integer32 %q", text)
		}
		return Value{Type: Integer, Int: n}, nil
	case Counter32, Gauge32, TimeTicks, Counter64:
		bits := 32
		if typ == Counter64 {
			bits = 64
		}
		n, err := strconv.ParseUint(strings.TrimSpace(text), 10, bits)
		if err != nil {
			return Value{}, fmt.Errorf("bad %s %q", typ, text)
		}
		return Value{Type: typ, Uint: n}, nil
	case ObjectIdentifier:
		text = strings.TrimSpace(text)
		if text == "0" || text == ".0" {
			// Some recorders write zeroDotZero (hrDeviceID "unknown") as a
			// bare 0, which BER cannot encode; serve it as 0.0.
			text = "0.0"
		}
		oid, err := ParseOID(text)
		if err != nil {
			return Value{}, fmt.Errorf("bad OBJECT IDENTIFIER value: %w", err)
		}
		return Value{Type: ObjectIdentifier, OID: oid}, nil
	case IPAddress:
		addr, err := netip.ParseAddr(strings.TrimSpace(text))
		if err != nil || !addr.Is4() {
			return Value{}, fmt.Errorf("bad IpAddress %q: want dotted IPv4", text)
		}
		ip := addr.As4()
		return Value{Type: IPAddress, Bytes: ip[:]}, nil
	}
	return Value{}, fmt.Errorf("unsupported type %d", typ)
}
