package snmp

import (
	"math"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// TestConvertKeepsIntegersInRange checks that no unsigned value gosnmp
// decodes wraps into a negative integer: gosnmp reads a Counter32 or
// Gauge32 of up to nine bytes into a uint.
func TestConvertKeepsIntegersInRange(t *testing.T) {
	tests := []struct {
		name   string
		in     gosnmp.SnmpPDU
		want   int64
		wantOK bool
	}{
		{"Counter32 as uint", gosnmp.SnmpPDU{Name: ".1.1", Type: gosnmp.Counter32, Value: uint(42)}, 42, true},
		{"Counter32 above int64", gosnmp.SnmpPDU{Name: ".1.1", Type: gosnmp.Counter32, Value: uint(math.MaxInt64) + 1}, 0, false},
		{"Gauge32 above int64 as uint64", gosnmp.SnmpPDU{Name: ".1.1", Type: gosnmp.Gauge32, Value: uint64(math.MaxUint64)}, 0, false},
		{"Counter64 in range", gosnmp.SnmpPDU{Name: ".1.1", Type: gosnmp.Counter64, Value: uint64(1) << 57}, 1 << 57, true},
		{"Counter64 above int64", gosnmp.SnmpPDU{Name: ".1.1", Type: gosnmp.Counter64, Value: uint64(1) << 63}, 0, false},
		{"8-byte INTEGER", gosnmp.SnmpPDU{Name: ".1.1", Type: gosnmp.Integer, Value: int(math.MinInt64)}, math.MinInt64, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := convert(tt.in)
			if !ok {
				t.Fatalf("convert(%v) refused the binding", tt.in)
			}
			got, ok := p.Int()
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Int() = %d, %t; want %d, %t", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
