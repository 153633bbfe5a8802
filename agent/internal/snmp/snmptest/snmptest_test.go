package snmptest

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/meterline/meterline/agent/internal/snmp"
)

func TestParseSnmprec(t *testing.T) {
	text := `# a comment
1.3.6.1.2.1.1.1.0|4|Printer | with a bar
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.11.2.3.9.1
1.3.6.1.2.1.2.2.1.6.1|4x|3C2AF4BFF51B
1.3.6.1.2.1.4.20.1.1.127.0.0.1|64x|7f000001
1.3.6.1.2.1.43.10.2.1.4.1.1|65|15232
1.3.6.1.2.1.43.11.1.1.9.1.1|2|-3
1.3.6.1.2.1.31.1.1.1.6.1|70|18446744073709551615

`
	pdus, err := ParseSnmprec(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []snmp.PDU{
		{OID: "1.3.6.1.2.1.1.1.0", Type: snmp.TypeOctetString, Value: []byte("Printer | with a bar")},
		{OID: "1.3.6.1.2.1.1.2.0", Type: snmp.TypeObjectID, Value: "1.3.6.1.4.1.11.2.3.9.1"},
		{OID: "1.3.6.1.2.1.2.2.1.6.1", Type: snmp.TypeOctetString, Value: []byte{0x3c, 0x2a, 0xf4, 0xbf, 0xf5, 0x1b}},
		{OID: "1.3.6.1.2.1.4.20.1.1.127.0.0.1", Type: snmp.TypeIPAddress, Value: "127.0.0.1"},
		{OID: "1.3.6.1.2.1.43.10.2.1.4.1.1", Type: snmp.TypeCounter32, Value: int64(15232)},
		{OID: "1.3.6.1.2.1.43.11.1.1.9.1.1", Type: snmp.TypeInteger, Value: int64(-3)},
		{OID: "1.3.6.1.2.1.31.1.1.1.6.1", Type: snmp.TypeCounter64, Value: uint64(18446744073709551615)},
	}
	if !reflect.DeepEqual(pdus, want) {
		t.Errorf("got  %v\nwant %v", pdus, want)
	}
	for _, bad := range []string{"1.3.6|2", "1.3.6|2|x", "1.3.6|99|1", "1.3.6|4x|zz"} {
		if _, err := ParseSnmprec(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseSnmprec(%q) accepted it", bad)
		}
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
