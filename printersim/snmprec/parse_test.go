package snmprec

import (
	"strings"
	"testing"
)

func TestParseValues(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Value
	}{
		{"integer", "1.3.6.1.2.1.25.3.2.1.5.1|2|2", Value{Type: Integer, Int: 2}},
		{"negative integer", "1.3.6.1.2.1.43.11.1.1.9.1.1|2|-3", Value{Type: Integer, Int: -3}},
		{"string", "1.3.6.1.2.1.1.1.0|4|Xerox AltaLink C8055", Value{Type: OctetString, Bytes: []byte("Xerox AltaLink C8055")}},
		{"string with pipe", "1.3.6.1.2.1.1.1.0|4|a|b", Value{Type: OctetString, Bytes: []byte("a|b")}},
		{"empty string", "1.3.6.1.2.1.25.3.5.1.2.1|4|", Value{Type: OctetString, Bytes: []byte{}}},
		{"hex string", "1.3.6.1.2.1.25.3.5.1.2.1|4x|2000", Value{Type: OctetString, Bytes: []byte{0x20, 0x00}}},
		{"hex string upper case", "1.3.6.1.4.1.11.2.3.9.4.2.1.1.3.3.0|4x|0115564E", Value{Type: OctetString, Bytes: []byte{0x01, 0x15, 'V', 'N'}}},
		{"null", "1.3.6.1.2.1.1.9.0|5|", Value{Type: Null}},
		{"oid", "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.253.8.62.1", Value{Type: ObjectIdentifier, OID: OID{1, 3, 6, 1, 4, 1, 253, 8, 62, 1}}},
		{"oid with leading dot", "1.3.6.1.2.1.1.2.0|6|.1.3.6.1.4.1.1129.1.2.1", Value{Type: ObjectIdentifier, OID: OID{1, 3, 6, 1, 4, 1, 1129, 1, 2, 1}}},
		{"zero oid", "1.3.6.1.2.1.25.3.2.1.4.1|6|0.0", Value{Type: ObjectIdentifier, OID: OID{0, 0}}},
		{"bare zero oid is zeroDotZero", "1.3.6.1.2.1.25.3.2.1.4.1|6|0", Value{Type: ObjectIdentifier, OID: OID{0, 0}}},
		{"bare dotted zero oid is zeroDotZero", "1.3.6.1.2.1.25.3.2.1.4.1|6|.0", Value{Type: ObjectIdentifier, OID: OID{0, 0}}},
		{"ip address", "1.3.6.1.2.1.4.20.1.3.127.0.0.1|64|255.0.0.0", Value{Type: IPAddress, Bytes: []byte{255, 0, 0, 0}}},
		{"hex ip address", "1.3.6.1.2.1.4.20.1.1.10.180.116.29|64x|0ab4741d", Value{Type: IPAddress, Bytes: []byte{10, 180, 116, 29}}},
		{"counter32", "1.3.6.1.2.1.43.10.2.1.4.1.1|65|4294967295", Value{Type: Counter32, Uint: 4294967295}},
		{"gauge32", "1.3.6.1.2.1.2.2.1.5.1|66|1000000000", Value{Type: Gauge32, Uint: 1000000000}},
		{"timeticks", "1.3.6.1.2.1.1.3.0|67|93311822", Value{Type: TimeTicks, Uint: 93311822}},
		{"counter64", "1.3.6.1.2.1.31.1.1.1.6.1|70|18446744073709551615", Value{Type: Counter64, Uint: 18446744073709551615}},
		{"hex integer is hex text", "1.3.6.1.2.1.1.7.0|2x|3732", Value{Type: Integer, Int: 72}},
		{"hex counter is hex text", "1.3.6.1.2.1.1.7.0|65x|3432", Value{Type: Counter32, Uint: 42}},
		{"leading dot on record oid", ".1.3.6.1.2.1.1.5.0|4|name", Value{Type: OctetString, Bytes: []byte("name")}},
		{"crlf line end", "1.3.6.1.2.1.1.5.0|4|name\r", Value{Type: OctetString, Bytes: []byte("name")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := Parse(strings.NewReader(tt.line+"\n"), "test.snmprec")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(recs) != 1 {
				t.Fatalf("got %d records, want 1", len(recs))
			}
			if got := recs[0].Value; !got.Equal(tt.want) || got.Type != tt.want.Type {
				t.Errorf("value = %v (%s), want %v (%s)", got, got.Type, tt.want, tt.want.Type)
			}
		})
	}
}

func TestParseBadLines(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wantErr string
	}{
		{"no separators", "1.3.6.1.2.1.1.1.0 Xerox", "test.snmprec:1:"},
		{"one separator", "1.3.6.1.2.1.1.1.0|4", "test.snmprec:1:"},
		{"bad oid", "1.3.six|4|x", "test.snmprec:1:"},
		{"oid with one arc", "1|4|x", "at least two arcs"},
		{"oid with empty arc", "1.3..6|4|x", "test.snmprec:1:"},
		{"unknown type", "1.3.6.1|99|x", "unsupported type 99"},
		{"type with variation module", "1.3.6.1|2:numeric|1", "unknown type"},
		{"integer out of range", "1.3.6.1|2|2147483648", "bad Integer32"},
		{"integer not a number", "1.3.6.1|2|many", "bad Integer32"},
		{"negative counter", "1.3.6.1|65|-1", "bad Counter32"},
		{"counter32 overflow", "1.3.6.1|65|4294967296", "bad Counter32"},
		{"corrupt counter32", "1.3.6.1|65|6git3159", "bad Counter32"},
		{"negative gauge32", "1.3.6.1|66|-1", "bad Gauge32"},
		{"timeticks overflow", "1.3.6.1|67|4294967296", "bad TimeTicks"},
		{"negative counter64", "1.3.6.1|70|-1", "bad Counter64"},
		{"bare zero record oid", "0|4|x", "at least two arcs"},
		{"bad hex", "1.3.6.1|4x|0g", "bad hex"},
		{"odd hex", "1.3.6.1|4x|abc", "bad hex"},
		{"short hex ip", "1.3.6.1|64x|0a0b", "4 bytes"},
		{"ipv6 address", "1.3.6.1|64|::1", "bad IpAddress"},
		{"bad oid value", "1.3.6.1|6|1.3.x", "OBJECT IDENTIFIER"},
		{"line number counts comments and blanks", "# header\n\n1.3.6.1.2.1.1.5.0|4|ok\n1.3.6.1|2|x\n", "test.snmprec:4:"},
		{"conflicting duplicate", "1.3.6.1.2.1.1.5.0|4|a\n1.3.6.1.2.1.1.5.0|4|b\n", "test.snmprec:2: OID 1.3.6.1.2.1.1.5.0 already has a different value on line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.input), "test.snmprec")
			if err == nil {
				t.Fatalf("Parse succeeded, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseSortsNumerically(t *testing.T) {
	input := strings.Join([]string{
		"1.3.6.1.2.1.43.11.1.1.9.1.10|2|5",
		"1.3.6.1.2.1.43.11.1.1.9.1.2|2|66",
		"1.3.6.1.2.1.43.11.1.1.9.1.1|2|20",
		"1.3.6.1.2.1.43.11.1.1.9|2|0",
		"1.3.6.1.2.1.1.1.0|4|first",
		"1.3.6.1.2.1.43.11.1.1.9.1.2|2|66", // exact duplicate: kept once
	}, "\n")
	recs, err := Parse(strings.NewReader(input), "test")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"1.3.6.1.2.1.1.1.0",
		"1.3.6.1.2.1.43.11.1.1.9",
		"1.3.6.1.2.1.43.11.1.1.9.1.1",
		"1.3.6.1.2.1.43.11.1.1.9.1.2",
		"1.3.6.1.2.1.43.11.1.1.9.1.10",
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, rec := range recs {
		if rec.OID.String() != want[i] {
			t.Errorf("record %d = %s, want %s", i, rec.OID, want[i])
		}
	}
}

func TestRecordStringRoundTrip(t *testing.T) {
	input := strings.Join([]string{
		"1.3.6.1.2.1.1.1.0|4|HP ETHERNET MULTI-ENVIRONMENT",
		"1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.11.2.3.9.1",
		"1.3.6.1.2.1.1.3.0|67|139939",
		"1.3.6.1.2.1.1.9.0|5|",
		"1.3.6.1.2.1.4.20.1.1.10.0.0.1|64x|0a000001",
		"1.3.6.1.2.1.25.3.5.1.2.1|4x|2000",
		"1.3.6.1.2.1.31.1.1.1.6.1|70|12345678901",
		"1.3.6.1.2.1.43.11.1.1.9.1.1|2|-3",
	}, "\n")
	recs, err := Parse(strings.NewReader(input), "test")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, rec := range recs {
		lines = append(lines, rec.String())
	}
	again, err := Parse(strings.NewReader(strings.Join(lines, "\n")), "again")
	if err != nil {
		t.Fatalf("re-parse %q: %v", lines, err)
	}
	for i := range recs {
		if !recs[i].Value.Equal(again[i].Value) || !recs[i].OID.Equal(again[i].OID) {
			t.Errorf("record %d: %s became %s", i, recs[i], again[i])
		}
	}
}

func TestParseTolerant(t *testing.T) {
	input := "1.3.6.1.2.1.1.1.0|4|ok\n1.3.6.1.2.1.2.2.1.17.1|65|6git3159\n1.3.6.1.2.1.1.5.0|4|name\n"
	var skipped []error
	recs, err := ParseTolerant(strings.NewReader(input), "oki.snmprec", func(err error) { skipped = append(skipped, err) })
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Errorf("got %d records, want the 2 good ones", len(recs))
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0].Error(), "oki.snmprec:2:") {
		t.Errorf("skipped = %v, want one error for oki.snmprec:2", skipped)
	}
	if _, err := Parse(strings.NewReader(input), "oki.snmprec"); err == nil {
		t.Error("strict Parse accepted the bad line")
	}
}
