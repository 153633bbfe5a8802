// Package snmptest provides a fake snmp.Client that serves values parsed
// from snmprec recordings (the format of snmpsim and the LibreNMS test
// data), and records the requests made to it.
package snmptest

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/meterline/meterline/agent/internal/snmp"
)

// Call is one request made to a Fake.
type Call struct {
	Op   string // "get" or "walk"
	OIDs []string
}

// Fake is an in-memory snmp.Client. It is safe for concurrent use.
type Fake struct {
	pdus []snmp.PDU // sorted by OID
	byID map[string]snmp.PDU

	// Err, when set, is returned by every request, for failure tests.
	Err error

	mu    sync.Mutex
	calls []Call
}

// New returns a Fake serving pdus.
func New(pdus []snmp.PDU) *Fake {
	sorted := slices.Clone(pdus)
	slices.SortFunc(sorted, func(a, b snmp.PDU) int { return snmp.CompareOIDs(a.OID, b.OID) })
	byID := make(map[string]snmp.PDU, len(sorted))
	for _, p := range sorted {
		byID[p.OID] = p
	}
	return &Fake{pdus: sorted, byID: byID}
}

// Load reads an snmprec file and returns a Fake serving it. Like snmpsim,
// it serves a file with a few unreadable values (one LibreNMS recording has
// a Counter32 of "6git3159"): those lines are skipped, and only a file that
// is not snmprec at all is an error.
func Load(path string) (*Fake, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pdus, err := parse(f, true)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return New(pdus), nil
}

// PDUs returns every binding the fake serves, in OID order.
func (f *Fake) PDUs() []snmp.PDU { return slices.Clone(f.pdus) }

// Get implements snmp.Client.
func (f *Fake) Get(ctx context.Context, oids []string) ([]snmp.PDU, error) {
	f.record("get", oids)
	if err := f.fail(ctx); err != nil {
		return nil, err
	}
	var out []snmp.PDU
	for _, oid := range oids {
		if p, ok := f.byID[snmp.NormalizeOID(oid)]; ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// Walk implements snmp.Client.
func (f *Fake) Walk(ctx context.Context, root string) ([]snmp.PDU, error) {
	f.record("walk", []string{root})
	if err := f.fail(ctx); err != nil {
		return nil, err
	}
	root = snmp.NormalizeOID(root)
	var out []snmp.PDU
	for _, p := range f.pdus {
		if snmp.InSubtree(root, p.OID) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Close implements snmp.Client.
func (f *Fake) Close() error { return nil }

// Calls returns the requests made so far.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Dial is an snmp.DialFunc that returns this fake whatever the target.
func (f *Fake) Dial(context.Context, string, snmp.Params) (snmp.Client, error) {
	return f, nil
}

func (f *Fake) record(op string, oids []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Op: op, OIDs: slices.Clone(oids)})
}

func (f *Fake) fail(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.Err
}

// ParseSnmprec parses snmprec text: one "OID|TYPE|VALUE" per line, TYPE
// being the BER tag in decimal, with an "x" suffix when VALUE is hex.
// Blank lines and lines starting with '#' are skipped.
func ParseSnmprec(r io.Reader) ([]snmp.PDU, error) {
	return parse(r, false)
}

func parse(r io.Reader, skipBadValues bool) ([]snmp.PDU, error) {
	var out []snmp.PDU
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, err := parseLine(line)
		var bad *badValueError
		if skipBadValues && errors.As(err, &bad) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func parseLine(line string) (snmp.PDU, error) {
	oid, rest, ok1 := strings.Cut(line, "|")
	tag, value, ok2 := strings.Cut(rest, "|")
	if !ok1 || !ok2 {
		return snmp.PDU{}, fmt.Errorf("%q is not OID|TYPE|VALUE", line)
	}
	p := snmp.PDU{OID: snmp.NormalizeOID(oid)}
	hexValue := strings.HasSuffix(tag, "x")
	tag = strings.TrimSuffix(tag, "x")
	raw := []byte(value)
	if hexValue {
		b, err := hex.DecodeString(value)
		if err != nil {
			return snmp.PDU{}, &badValueError{fmt.Errorf("%s: bad hex value: %w", oid, err)}
		}
		raw = b
	}
	var err error
	switch tag {
	case "2":
		p.Type = snmp.TypeInteger
		p.Value, err = strconv.ParseInt(value, 10, 32)
	case "4":
		p.Type, p.Value = snmp.TypeOctetString, raw
	case "5":
		p.Type = snmp.TypeNull
	case "6":
		p.Type, p.Value = snmp.TypeObjectID, snmp.NormalizeOID(value)
	case "64":
		p.Type = snmp.TypeIPAddress
		if hexValue {
			p.Value = net.IP(raw).String()
		} else {
			p.Value = value
		}
	case "65", "66", "67":
		p.Type = map[string]snmp.Type{"65": snmp.TypeCounter32, "66": snmp.TypeGauge32, "67": snmp.TypeTimeTicks}[tag]
		p.Value, err = strconv.ParseInt(value, 10, 64)
	case "68":
		p.Type, p.Value = snmp.TypeOpaque, raw
	case "70":
		p.Type = snmp.TypeCounter64
		p.Value, err = strconv.ParseUint(value, 10, 64)
	default:
		return snmp.PDU{}, fmt.Errorf("%s: unsupported type %q", oid, tag)
	}
	if err != nil {
		return snmp.PDU{}, &badValueError{fmt.Errorf("%s: bad %s value %q: %w", oid, p.Type, value, err)}
	}
	return p, nil
}

// badValueError is a well-formed line whose value does not parse.
type badValueError struct{ err error }

func (e *badValueError) Error() string { return e.err.Error() }
func (e *badValueError) Unwrap() error { return e.err }
