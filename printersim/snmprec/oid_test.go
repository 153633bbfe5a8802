package snmprec

import "testing"

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.3.6.1.2", "1.3.6.1.10", -1},
		{"1.3.6.1.10", "1.3.6.1.2", 1},
		{"1.3.6.1", "1.3.6.1.0", -1},
		{"1.3.6.1.2.1", "1.3.6.1.2.1", 0},
		{".1.3.6.1.2.1", "1.3.6.1.2.1", 0},
		{"1.3.6.1.4.1.4294967295", "1.3.6.1.4.1.4294967294", 1},
	}
	for _, tt := range tests {
		got := Compare(MustParseOID(tt.a), MustParseOID(tt.b))
		if got != tt.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestParseOIDRejects(t *testing.T) {
	for _, s := range []string{"", ".", "1", "3.1", "1.40", "1.3.-1", "1.3.4294967296", "1.3.", "1 .3"} {
		if _, err := ParseOID(s); err == nil {
			t.Errorf("ParseOID(%q) succeeded, want an error", s)
		}
	}
}

func TestHasPrefix(t *testing.T) {
	oid := MustParseOID("1.3.6.1.2.1.43.11.1.1.9.1.1")
	if !oid.HasPrefix(MustParseOID("1.3.6.1.2.1.43.11")) {
		t.Error("want prefix match")
	}
	if oid.HasPrefix(MustParseOID("1.3.6.1.2.1.43.12")) {
		t.Error("want no prefix match")
	}
	if !oid.HasPrefix(oid) {
		t.Error("an OID is its own prefix")
	}
}
