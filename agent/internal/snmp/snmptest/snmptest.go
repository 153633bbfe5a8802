// Package snmptest provides a fake snmp.Client that serves values parsed
// from snmprec recordings (the format of snmpsim and the LibreNMS test
// data), and records the requests made to it. Recordings are parsed by
// printersim's snmprec package, so the fake and the simulator read every
// file the same way.
package snmptest

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/printersim/snmprec"
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

// Load reads an snmprec file and returns a Fake serving it. The file is
// parsed by printersim's snmprec package, the one parser of the format, in
// its tolerant mode: like snmpsim, the fake serves a file with a few
// unreadable lines (one LibreNMS recording has a Counter32 of "6git3159"),
// skipping them; only a file that is not snmprec at all (no line parses
// though some do not) is an error.
func Load(path string) (*Fake, error) {
	f, err := os.Open(path) //nolint:gosec // tests name the recording to read
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var skipped []error
	records, err := snmprec.ParseTolerant(f, path, func(err error) { skipped = append(skipped, err) })
	if err == nil && len(records) == 0 && len(skipped) > 0 {
		err = fmt.Errorf("not an snmprec file: %w", skipped[0])
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return New(PDUs(records)), nil
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

// ParseSnmprec parses snmprec text strictly (see snmprec.Parse: the first
// bad line is an error naming its line) and returns its bindings in OID
// order.
func ParseSnmprec(r io.Reader) ([]snmp.PDU, error) {
	records, err := snmprec.Parse(r, "snmprec")
	if err != nil {
		return nil, err
	}
	return PDUs(records), nil
}

// PDUs converts parsed records into the bindings the agent's snmp.Client
// returns for them: Integer32, Counter32, Gauge32 and TimeTicks as int64
// (the 32-bit unsigned types always fit), Counter64 as uint64, OCTET STRING
// as []byte, OBJECT IDENTIFIER and IpAddress as dotted strings, NULL as nil.
func PDUs(records []snmprec.Record) []snmp.PDU {
	out := make([]snmp.PDU, 0, len(records))
	for _, rec := range records {
		out = append(out, pdu(rec))
	}
	return out
}

func pdu(rec snmprec.Record) snmp.PDU {
	p := snmp.PDU{OID: rec.OID.String()}
	v := rec.Value
	switch v.Type {
	case snmprec.Integer:
		p.Type, p.Value = snmp.TypeInteger, v.Int
	case snmprec.OctetString:
		p.Type, p.Value = snmp.TypeOctetString, slices.Clone(v.Bytes)
	case snmprec.Null:
		p.Type = snmp.TypeNull
	case snmprec.ObjectIdentifier:
		p.Type, p.Value = snmp.TypeObjectID, v.OID.String()
	case snmprec.IPAddress:
		p.Type, p.Value = snmp.TypeIPAddress, v.String()
	case snmprec.Counter32:
		p.Type, p.Value = snmp.TypeCounter32, int64(v.Uint) //nolint:gosec // at most 2^32-1: the parser checks the range
	case snmprec.Gauge32:
		p.Type, p.Value = snmp.TypeGauge32, int64(v.Uint) //nolint:gosec // at most 2^32-1: the parser checks the range
	case snmprec.TimeTicks:
		p.Type, p.Value = snmp.TypeTimeTicks, int64(v.Uint) //nolint:gosec // at most 2^32-1: the parser checks the range
	case snmprec.Counter64:
		p.Type, p.Value = snmp.TypeCounter64, v.Uint
	}
	return p
}
