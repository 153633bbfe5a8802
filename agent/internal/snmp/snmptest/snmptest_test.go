package snmptest

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/meterline/meterline/agent/internal/snmp"
)

// TestParseSnmprec checks what the agent sees of each snmprec type: the
// parser is printersim's (its own tests cover the format); this is the
// conversion into the bindings snmp.Client returns.
func TestParseSnmprec(t *testing.T) {
	tests := []struct {
		name string
		line string
		want snmp.PDU
	}{
		{"string with a bar", "1.3.6.1.2.1.1.1.0|4|Printer | with a bar", snmp.PDU{OID: "1.3.6.1.2.1.1.1.0", Type: snmp.TypeOctetString, Value: []byte("Printer | with a bar")}},
		{"hex string", "1.3.6.1.2.1.2.2.1.6.1|4x|3C2AF4BFF51B", snmp.PDU{OID: "1.3.6.1.2.1.2.2.1.6.1", Type: snmp.TypeOctetString, Value: []byte{0x3c, 0x2a, 0xf4, 0xbf, 0xf5, 0x1b}}},
		{"oid", "1.3.6.1.2.1.1.2.0|6|.1.3.6.1.4.1.11.2.3.9.1", snmp.PDU{OID: "1.3.6.1.2.1.1.2.0", Type: snmp.TypeObjectID, Value: "1.3.6.1.4.1.11.2.3.9.1"}},
		{"bare 0 oid is zeroDotZero", "1.3.6.1.2.1.25.3.2.1.4.1|6|0", snmp.PDU{OID: "1.3.6.1.2.1.25.3.2.1.4.1", Type: snmp.TypeObjectID, Value: "0.0"}},
		{"hex ip address", "1.3.6.1.2.1.4.20.1.1.127.0.0.1|64x|7f000001", snmp.PDU{OID: "1.3.6.1.2.1.4.20.1.1.127.0.0.1", Type: snmp.TypeIPAddress, Value: "127.0.0.1"}},
		{"ip address", "1.3.6.1.2.1.4.20.1.3.127.0.0.1|64|255.0.0.0", snmp.PDU{OID: "1.3.6.1.2.1.4.20.1.3.127.0.0.1", Type: snmp.TypeIPAddress, Value: "255.0.0.0"}},
		{"negative integer", "1.3.6.1.2.1.43.11.1.1.9.1.1|2|-3", snmp.PDU{OID: "1.3.6.1.2.1.43.11.1.1.9.1.1", Type: snmp.TypeInteger, Value: int64(-3)}},
		{"counter32", "1.3.6.1.2.1.43.10.2.1.4.1.1|65|15232", snmp.PDU{OID: "1.3.6.1.2.1.43.10.2.1.4.1.1", Type: snmp.TypeCounter32, Value: int64(15232)}},
		{"counter32 is unsigned", "1.3.6.1.2.1.43.10.2.1.4.1.1|65|4294967295", snmp.PDU{OID: "1.3.6.1.2.1.43.10.2.1.4.1.1", Type: snmp.TypeCounter32, Value: int64(4294967295)}},
		{"gauge32", "1.3.6.1.2.1.2.2.1.5.1|66|4294967295", snmp.PDU{OID: "1.3.6.1.2.1.2.2.1.5.1", Type: snmp.TypeGauge32, Value: int64(4294967295)}},
		{"timeticks", "1.3.6.1.2.1.1.3.0|67|93311822", snmp.PDU{OID: "1.3.6.1.2.1.1.3.0", Type: snmp.TypeTimeTicks, Value: int64(93311822)}},
		{"counter64", "1.3.6.1.2.1.31.1.1.1.6.1|70|18446744073709551615", snmp.PDU{OID: "1.3.6.1.2.1.31.1.1.1.6.1", Type: snmp.TypeCounter64, Value: uint64(18446744073709551615)}},
		{"null", "1.3.6.1.2.1.1.9.0|5|", snmp.PDU{OID: "1.3.6.1.2.1.1.9.0", Type: snmp.TypeNull}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pdus, err := ParseSnmprec(strings.NewReader("# a comment\n\n" + tt.line + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if len(pdus) != 1 || !reflect.DeepEqual(pdus[0], tt.want) {
				t.Errorf("got %v, want %v", pdus, tt.want)
			}
		})
	}
}

func TestParseSnmprecBadLines(t *testing.T) {
	tests := []struct{ name, text, wantErr string }{
		{"no value", "1.3.6.1|2", "snmprec:1:"},
		{"not a number", "1.3.6.1|2|x", "snmprec:1:"},
		{"unknown type", "1.3.6.1|99|1", "unsupported type"},
		{"bad hex", "1.3.6.1|4x|zz", "bad hex"},
		{"negative counter32", "1.3.6.1|65|-1", "bad Counter32"},
		{"counter32 above 32 bits", "1.3.6.1|65|4294967296", "bad Counter32"},
		{"one-arc record oid", "0|4|x", "at least two arcs"},
		{"line number counts comments", "# c\n1.3.6.1|4|ok\n1.3.6.2|65|6git3159\n", "snmprec:3:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSnmprec(strings.NewReader(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// Load skips the lines that do not parse, as snmpsim does.
	fake, err := Load(write("oki.snmprec", "1.3.6.1.2.1.1.1.0|4|ok\n1.3.6.1.2.1.2.2.1.17.1|65|6git3159\n1.3.6.1.2.1.1.5.0|4|name\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fake.PDUs(); len(got) != 2 {
		t.Errorf("got %v, want the 2 good lines", got)
	}
	// A file that is not snmprec at all is an error.
	if _, err := Load(write("notes.snmprec", "hello\nworld\n")); err == nil || !strings.Contains(err.Error(), "not an snmprec file") {
		t.Errorf("err = %v, want not an snmprec file", err)
	}
	// So is one OID with two values: a walk could serve either.
	if _, err := Load(write("dup.snmprec", "1.3.6.1.2.1.1.5.0|4|a\n1.3.6.1.2.1.1.5.0|4|b\n")); err == nil {
		t.Error("Load accepted an OID with two values")
	}
}

func TestFake(t *testing.T) {
	pdus, err := ParseSnmprec(strings.NewReader("1.3.6.1.2.1.1.1.0|4|x\n1.3.6.1.2.1.43.11.1.1.9.1.10|2|5\n1.3.6.1.2.1.43.11.1.1.9.1.9|2|4\n1.3.6.1.2.1.43.11.1.1.90.1|2|3\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := New(pdus)
	ctx := context.Background()
	got, _ := f.Walk(ctx, ".1.3.6.1.2.1.43.11.1.1.9")
	if len(got) != 2 || got[0].OID != "1.3.6.1.2.1.43.11.1.1.9.1.9" || got[1].OID != "1.3.6.1.2.1.43.11.1.1.9.1.10" {
		t.Errorf("walk = %v: want numeric order, column 90 excluded", got)
	}
	got, _ = f.Get(ctx, []string{"1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0"})
	if len(got) != 1 {
		t.Errorf("get = %v, want the one OID that exists", got)
	}
	if calls := f.Calls(); len(calls) != 2 || calls[0].Op != "walk" || calls[1].Op != "get" {
		t.Errorf("calls = %v", calls)
	}
}
