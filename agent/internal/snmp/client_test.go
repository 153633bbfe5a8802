package snmp

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// fakeAgent answers gosnmp requests from a sorted table, with knobs for
// the misbehaviours printers show.
type fakeAgent struct {
	oids   []string // sorted
	values map[string]int

	v1          bool              // SNMPv1 error semantics
	bulkStatus  gosnmp.SNMPError  // when set, GetBulk answers this error status
	bulkSilent  bool              // GetBulk times out
	maxVarbinds int               // above this, GetBulk answers tooBig
	silent      error             // every request fails with this
	reorder     map[string]string // GetNext(key) returns value: out of order or looping

	requests []string
}

func newFakeAgent(oids ...string) *fakeAgent {
	a := &fakeAgent{values: map[string]int{}}
	for i, oid := range oids {
		a.oids = append(a.oids, oid)
		a.values[oid] = i + 1
	}
	slices.SortFunc(a.oids, CompareOIDs)
	return a
}

func (a *fakeAgent) pdu(oid string) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: "." + oid, Type: gosnmp.Integer, Value: a.values[oid]}
}

func (a *fakeAgent) next(oid string) (gosnmp.SnmpPDU, bool) {
	if to, ok := a.reorder[oid]; ok {
		return a.pdu(to), true
	}
	for _, o := range a.oids {
		if CompareOIDs(o, oid) > 0 {
			return a.pdu(o), true
		}
	}
	return gosnmp.SnmpPDU{}, false
}

func (a *fakeAgent) Get(oids []string) (*gosnmp.SnmpPacket, error) {
	a.requests = append(a.requests, "get "+strings.Join(oids, ","))
	if a.silent != nil {
		return nil, a.silent
	}
	resp := &gosnmp.SnmpPacket{}
	for i, oid := range oids {
		oid = NormalizeOID(oid)
		if _, ok := a.values[oid]; ok {
			resp.Variables = append(resp.Variables, a.pdu(oid))
			continue
		}
		if a.v1 {
			return &gosnmp.SnmpPacket{Error: gosnmp.NoSuchName, ErrorIndex: uint8(i + 1)}, nil
		}
		resp.Variables = append(resp.Variables, gosnmp.SnmpPDU{Name: "." + oid, Type: gosnmp.NoSuchObject})
	}
	return resp, nil
}

func (a *fakeAgent) GetNext(oids []string) (*gosnmp.SnmpPacket, error) {
	a.requests = append(a.requests, "getnext "+oids[0])
	if a.silent != nil {
		return nil, a.silent
	}
	p, ok := a.next(NormalizeOID(oids[0]))
	if !ok {
		if a.v1 {
			return &gosnmp.SnmpPacket{Error: gosnmp.NoSuchName, ErrorIndex: 1}, nil
		}
		return &gosnmp.SnmpPacket{Variables: []gosnmp.SnmpPDU{{Name: oids[0], Type: gosnmp.EndOfMibView}}}, nil
	}
	return &gosnmp.SnmpPacket{Variables: []gosnmp.SnmpPDU{p}}, nil
}

func (a *fakeAgent) GetBulk(oids []string, _ uint8, maxReps uint32) (*gosnmp.SnmpPacket, error) {
	a.requests = append(a.requests, fmt.Sprintf("getbulk %s x%d", oids[0], maxReps))
	switch {
	case a.silent != nil:
		return nil, a.silent
	case a.bulkSilent:
		return nil, fmt.Errorf("request timeout (after 1 retries): %w", gosnmp.ErrMaxRetriesExceeded)
	case a.bulkStatus != gosnmp.NoError:
		return &gosnmp.SnmpPacket{Error: a.bulkStatus}, nil
	case a.maxVarbinds > 0 && int(maxReps) > a.maxVarbinds:
		return &gosnmp.SnmpPacket{Error: gosnmp.TooBig}, nil
	}
	resp := &gosnmp.SnmpPacket{}
	oid := NormalizeOID(oids[0])
	for range maxReps {
		p, ok := a.next(oid)
		if !ok {
			resp.Variables = append(resp.Variables, gosnmp.SnmpPDU{Name: "." + oid, Type: gosnmp.EndOfMibView})
			break
		}
		resp.Variables = append(resp.Variables, p)
		oid = NormalizeOID(p.Name)
	}
	return resp, nil
}

func oidsOf(pdus []PDU) []string {
	var out []string
	for _, p := range pdus {
		out = append(out, p.OID)
	}
	return out
}

var table = []string{
	"1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0",
	"1.3.6.1.2.1.43.11.1.1.9.1.1", "1.3.6.1.2.1.43.11.1.1.9.1.2", "1.3.6.1.2.1.43.11.1.1.9.1.3",
	"1.3.6.1.2.1.43.11.1.1.9.1.10", "1.3.6.1.2.1.43.12.1.1.4.1.1",
}

var supplyLevels = []string{
	"1.3.6.1.2.1.43.11.1.1.9.1.1", "1.3.6.1.2.1.43.11.1.1.9.1.2",
	"1.3.6.1.2.1.43.11.1.1.9.1.3", "1.3.6.1.2.1.43.11.1.1.9.1.10",
}

func testClient(a *fakeAgent, v Version, maxReps int) *client {
	return newClient(nil, a, "192.0.2.1:161", Params{Version: v, Community: "public", Timeout: time.Second, Retries: 1, MaxRepetitions: maxReps})
}

func TestWalk(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name         string
		version      Version
		maxReps      int
		setup        func(*fakeAgent)
		wantRequests []string
	}{
		{
			name: "v2c walks with GetBulk", version: Version2c, maxReps: 3,
			wantRequests: []string{
				"getbulk .1.3.6.1.2.1.43.11.1.1.9 x3",
				"getbulk .1.3.6.1.2.1.43.11.1.1.9.1.3 x3",
			},
		},
		{
			name: "v1 walks with GetNext until noSuchName", version: Version1,
			setup: func(a *fakeAgent) { a.v1 = true; a.oids = a.oids[:len(a.oids)-1] },
			wantRequests: []string{
				"getnext .1.3.6.1.2.1.43.11.1.1.9", "getnext .1.3.6.1.2.1.43.11.1.1.9.1.1",
				"getnext .1.3.6.1.2.1.43.11.1.1.9.1.2", "getnext .1.3.6.1.2.1.43.11.1.1.9.1.3",
				"getnext .1.3.6.1.2.1.43.11.1.1.9.1.10",
			},
		},
		{
			name: "GetBulk refused with genErr falls back to GetNext", version: Version2c,
			setup: func(a *fakeAgent) { a.bulkStatus = gosnmp.GenErr },
			wantRequests: []string{
				"getbulk .1.3.6.1.2.1.43.11.1.1.9 x25",
				"getnext .1.3.6.1.2.1.43.11.1.1.9", "getnext .1.3.6.1.2.1.43.11.1.1.9.1.1",
				"getnext .1.3.6.1.2.1.43.11.1.1.9.1.2", "getnext .1.3.6.1.2.1.43.11.1.1.9.1.3",
				"getnext .1.3.6.1.2.1.43.11.1.1.9.1.10",
			},
		},
		{
			name: "tooBig halves the repetitions", version: Version2c, maxReps: 8,
			setup: func(a *fakeAgent) { a.maxVarbinds = 2 },
			wantRequests: []string{
				"getbulk .1.3.6.1.2.1.43.11.1.1.9 x8",
				"getbulk .1.3.6.1.2.1.43.11.1.1.9 x4",
				"getbulk .1.3.6.1.2.1.43.11.1.1.9 x2",
				"getbulk .1.3.6.1.2.1.43.11.1.1.9.1.2 x2",
				"getbulk .1.3.6.1.2.1.43.11.1.1.9.1.10 x2",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newFakeAgent(table...)
			if tt.setup != nil {
				tt.setup(a)
			}
			c := testClient(a, tt.version, tt.maxReps)
			got, err := c.Walk(ctx, "1.3.6.1.2.1.43.11.1.1.9")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(oidsOf(got), supplyLevels) {
				t.Errorf("walked %v, want %v", oidsOf(got), supplyLevels)
			}
			if !reflect.DeepEqual(a.requests, tt.wantRequests) {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(a.requests, "\n"), strings.Join(tt.wantRequests, "\n"))
			}
		})
	}
}

func TestWalkRemembersRefusedGetBulk(t *testing.T) {
	a := newFakeAgent(table...)
	a.bulkSilent = true
	c := testClient(a, Version2c, 0)
	ctx := context.Background()
	if _, err := c.Get(ctx, []string{"1.3.6.1.2.1.1.1.0"}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := c.Walk(ctx, "1.3.6.1.2.1.43.12.1.1.4")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("walked %v", got)
		}
	}
	var bulks int
	for _, r := range a.requests {
		if strings.HasPrefix(r, "getbulk") {
			bulks++
		}
	}
	if bulks != 1 {
		t.Errorf("%d GetBulk requests, want 1: a silent GetBulk is tried once, then GetNext:\n%s", bulks, strings.Join(a.requests, "\n"))
	}
}

func TestWalkOutOfOrderAndLoops(t *testing.T) {
	ctx := context.Background()
	root := "1.3.6.1.2.1.43.11.1.1.9"
	t.Run("non-increasing OIDs are accepted", func(t *testing.T) {
		a := newFakeAgent(table...)
		// After .1.1 the agent returns .1.3, then goes back to .1.2, then on.
		a.reorder = map[string]string{
			"1.3.6.1.2.1.43.11.1.1.9.1.1": "1.3.6.1.2.1.43.11.1.1.9.1.3",
			"1.3.6.1.2.1.43.11.1.1.9.1.3": "1.3.6.1.2.1.43.11.1.1.9.1.2",
			"1.3.6.1.2.1.43.11.1.1.9.1.2": "1.3.6.1.2.1.43.11.1.1.9.1.10",
		}
		got, err := testClient(a, Version1, 0).Walk(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"1.3.6.1.2.1.43.11.1.1.9.1.1", "1.3.6.1.2.1.43.11.1.1.9.1.3",
			"1.3.6.1.2.1.43.11.1.1.9.1.2", "1.3.6.1.2.1.43.11.1.1.9.1.10",
		}
		if !reflect.DeepEqual(oidsOf(got), want) {
			t.Errorf("walked %v, want %v", oidsOf(got), want)
		}
	})
	t.Run("a loop ends the walk", func(t *testing.T) {
		for _, v := range []Version{Version1, Version2c} {
			a := newFakeAgent(table...)
			a.reorder = map[string]string{"1.3.6.1.2.1.43.11.1.1.9.1.2": "1.3.6.1.2.1.43.11.1.1.9.1.1"}
			got, err := testClient(a, v, 5).Walk(ctx, root)
			if err != nil {
				t.Fatal(err)
			}
			if want := supplyLevels[:2]; !reflect.DeepEqual(oidsOf(got), want) {
				t.Errorf("v%s walked %v, want %v", v, oidsOf(got), want)
			}
			if len(a.requests) > 4 {
				t.Errorf("v%s: %d requests for a 2-row loop", v, len(a.requests))
			}
		}
	})
}

func TestGet(t *testing.T) {
	ctx := context.Background()
	oids := []string{"1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.43.5.1.1.17.1", "1.3.6.1.2.1.1.2.0"}
	want := []string{"1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0"}

	t.Run("v2c drops noSuchObject", func(t *testing.T) {
		a := newFakeAgent(table...)
		got, err := testClient(a, Version2c, 0).Get(ctx, oids)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(oidsOf(got), want) || len(a.requests) != 1 {
			t.Errorf("got %v in %d requests, want %v in 1", oidsOf(got), len(a.requests), want)
		}
	})
	t.Run("v1 noSuchName asks one OID at a time", func(t *testing.T) {
		a := newFakeAgent(table...)
		a.v1 = true
		got, err := testClient(a, Version1, 0).Get(ctx, oids)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(oidsOf(got), want) {
			t.Errorf("got %v, want %v", oidsOf(got), want)
		}
		if len(a.requests) != 4 {
			t.Errorf("requests %v, want the GET then one per OID", a.requests)
		}
	})
}

func TestNoAnswer(t *testing.T) {
	ctx := context.Background()
	for name, cause := range map[string]error{
		"timeout":      fmt.Errorf("request timeout (after 1 retries): %w", gosnmp.ErrMaxRetriesExceeded),
		"port refused": fmt.Errorf("error reading from socket: %w", syscall.ECONNREFUSED),
	} {
		t.Run(name, func(t *testing.T) {
			a := newFakeAgent(table...)
			a.silent = cause
			c := testClient(a, Version2c, 0)
			_, err := c.Get(ctx, []string{"1.3.6.1.2.1.1.1.0"})
			var na *NoAnswerError
			if !errors.As(err, &na) {
				t.Fatalf("err = %v, want a *NoAnswerError", err)
			}
			if got := na.Error(); got != "no SNMP answer from 192.0.2.1:161 within 2s" {
				t.Errorf("message %q", got)
			}
			if !errors.Is(err, cause) && !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, gosnmp.ErrMaxRetriesExceeded) {
				t.Errorf("cause lost: %v", err)
			}
		})
	}
	t.Run("a timeout after answers is not no-answer", func(t *testing.T) {
		a := newFakeAgent(table...)
		c := testClient(a, Version1, 0)
		if _, err := c.Get(ctx, []string{"1.3.6.1.2.1.1.1.0"}); err != nil {
			t.Fatal(err)
		}
		a.silent = fmt.Errorf("request timeout: %w", gosnmp.ErrMaxRetriesExceeded)
		_, err := c.Walk(ctx, "1.3.6.1.2.1.43")
		if err == nil || IsNoAnswer(err) {
			t.Errorf("err = %v, want a plain walk error", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		a := newFakeAgent(table...)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := testClient(a, Version2c, 0).Get(cctx, []string{"1.3.6.1.2.1.1.1.0"})
		if !errors.Is(err, context.Canceled) || len(a.requests) != 0 {
			t.Errorf("err = %v after %d requests", err, len(a.requests))
		}
	})
}

func TestSplitTarget(t *testing.T) {
	tests := []struct {
		in   string
		host string
		port uint16
		bad  bool
	}{
		{"192.0.2.1", "192.0.2.1", 161, false},
		{"192.0.2.1:16100", "192.0.2.1", 16100, false},
		{"printer.example", "printer.example", 161, false},
		{"[2001:db8::1]:162", "2001:db8::1", 162, false},
		{"2001:db8::1", "2001:db8::1", 161, false},
		{"[2001:db8::1]", "2001:db8::1", 161, false},
		{"host:0", "", 0, true},
		{"host:99999", "", 0, true},
		{":161", "", 0, true},
		{"", "", 0, true},
	}
	for _, tt := range tests {
		host, port, err := SplitTarget(tt.in)
		if (err != nil) != tt.bad || host != tt.host || port != tt.port {
			t.Errorf("SplitTarget(%q) = %q, %d, %v", tt.in, host, port, err)
		}
	}
}

func TestCompareOIDs(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.3.6", "1.3.6", 0},
		{"1.3.6.1.9", "1.3.6.1.10", -1},
		{"1.3.6.1", "1.3.6", 1},
		{"1.3.6", "1.3.6.1", -1},
		{"1.3.6.1.4294967296", "1.3.6.1.4294967295", 1},
	}
	for _, tt := range tests {
		if got := CompareOIDs(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareOIDs(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
