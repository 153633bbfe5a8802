package printer

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meterline/meterline/agent/internal/fixtures"
	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/agent/internal/snmp/snmptest"
)

// TestOIDKeyOrder: sort keys order OIDs exactly as CompareOIDs does.
func TestOIDKeyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	arcs := []string{"0", "1", "2", "9", "10", "43", "255", "256", "65535", "65536", "4294967295", "18446744073709551615"}
	var oids []string
	for range 2000 {
		var parts []string
		for range 1 + rng.IntN(8) {
			parts = append(parts, arcs[rng.IntN(len(arcs))])
		}
		oids = append(oids, strings.Join(parts, "."))
	}
	for i := 0; i+1 < len(oids); i++ {
		a, b := oids[i], oids[i+1]
		want := snmp.CompareOIDs(a, b)
		got := strings.Compare(oidKey(a), oidKey(b))
		if got != want {
			t.Fatalf("%s vs %s: keys compare %d, CompareOIDs %d", a, b, got, want)
		}
	}
}

func TestNewSnapshotLaterBindingWins(t *testing.T) {
	s := NewSnapshot([]snmp.PDU{
		{OID: ".1.3.6.1.2.1.43.5.1.1.17.1", Type: snmp.TypeOctetString, Value: []byte("OLD")},
		{OID: "1.3.6.1.2.1.1.1.0", Type: snmp.TypeOctetString, Value: []byte("descr")},
		{OID: "1.3.6.1.2.1.43.5.1.1.17.1", Type: snmp.TypeOctetString, Value: []byte("NEW")},
	})
	if b, _ := s.bytes("1.3.6.1.2.1.43.5.1.1.17.1"); string(b) != "NEW" || s.Len() != 2 {
		t.Errorf("serial %q, %d bindings", b, s.Len())
	}
	var got []string
	for _, p := range s.sorted {
		got = append(got, p.OID)
	}
	if !slices.IsSortedFunc(got, snmp.CompareOIDs) {
		t.Errorf("not in OID order: %v", got)
	}
}

func BenchmarkNewSnapshot(b *testing.B) {
	fake, err := snmptest.Load(filepath.Join(fixtures.LibreNMS(b), "sharp.snmprec"))
	if err != nil {
		b.Fatal(err)
	}
	sorted := fake.PDUs()
	// As a read assembles them: each walk's values in order, the walks
	// themselves not (hrDevice 25.x before ifPhysAddress 2.x, say).
	var pdus []snmp.PDU
	const walks = 8
	for w := walks - 1; w >= 0; w-- {
		pdus = append(pdus, sorted[w*len(sorted)/walks:(w+1)*len(sorted)/walks]...)
	}
	b.ReportAllocs()
	for b.Loop() {
		NewSnapshot(pdus)
	}
}
