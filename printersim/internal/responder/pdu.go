package responder

import (
	"fmt"
	"net/netip"

	"github.com/gosnmp/gosnmp"

	"github.com/meterline/meterline/printersim/snmprec"
)

// toPDU converts a value into the Go types gosnmp's encoder expects.
func toPDU(name string, v snmprec.Value) gosnmp.SnmpPDU {
	pdu := gosnmp.SnmpPDU{Name: name}
	switch v.Type {
	case snmprec.Integer:
		pdu.Type, pdu.Value = gosnmp.Integer, int(v.Int)
	case snmprec.OctetString:
		pdu.Type, pdu.Value = gosnmp.OctetString, v.Bytes
	case snmprec.ObjectIdentifier:
		pdu.Type, pdu.Value = gosnmp.ObjectIdentifier, dotted(v.OID)
	case snmprec.IPAddress:
		pdu.Type, pdu.Value = gosnmp.IPAddress, v.Bytes
	case snmprec.Counter32:
		pdu.Type, pdu.Value = gosnmp.Counter32, uint32(v.Uint) //nolint:gosec // snmprec parsed it as 32 bits: it fits
	case snmprec.Gauge32:
		pdu.Type, pdu.Value = gosnmp.Gauge32, uint32(v.Uint) //nolint:gosec // snmprec parsed it as 32 bits: it fits
	case snmprec.TimeTicks:
		pdu.Type, pdu.Value = gosnmp.TimeTicks, uint32(v.Uint) //nolint:gosec // snmprec parsed it as 32 bits: it fits
	case snmprec.Counter64:
		pdu.Type, pdu.Value = gosnmp.Counter64, v.Uint
	default:
		pdu.Type = gosnmp.Null
	}
	return pdu
}

// ValueFromPDU converts a varbind as a gosnmp client decodes it back into a
// snmprec.Value, so tests can compare what they received with what the
// simulator holds. Exceptions (noSuchObject, noSuchInstance, endOfMibView)
// are errors.
func ValueFromPDU(pdu gosnmp.SnmpPDU) (snmprec.Value, error) {
	switch pdu.Type {
	case gosnmp.Integer:
		n, ok := pdu.Value.(int)
		if !ok {
			return snmprec.Value{}, fmt.Errorf("%s: Integer holds %T", pdu.Name, pdu.Value)
		}
		return snmprec.Value{Type: snmprec.Integer, Int: int64(n)}, nil
	case gosnmp.OctetString:
		switch s := pdu.Value.(type) {
		case []byte:
			return snmprec.Value{Type: snmprec.OctetString, Bytes: s}, nil
		case string:
			return snmprec.Value{Type: snmprec.OctetString, Bytes: []byte(s)}, nil
		}
		return snmprec.Value{}, fmt.Errorf("%s: OCTET STRING holds %T", pdu.Name, pdu.Value)
	case gosnmp.Null:
		return snmprec.Value{Type: snmprec.Null}, nil
	case gosnmp.ObjectIdentifier:
		s, _ := pdu.Value.(string)
		oid, err := snmprec.ParseOID(s)
		if err != nil {
			return snmprec.Value{}, fmt.Errorf("%s: %w", pdu.Name, err)
		}
		return snmprec.Value{Type: snmprec.ObjectIdentifier, OID: oid}, nil
	case gosnmp.IPAddress:
		s, _ := pdu.Value.(string)
		addr, err := netip.ParseAddr(s)
		if err != nil || !addr.Is4() {
			return snmprec.Value{}, fmt.Errorf("%s: IpAddress %v is not IPv4", pdu.Name, pdu.Value)
		}
		ip := addr.As4()
		return snmprec.Value{Type: snmprec.IPAddress, Bytes: ip[:]}, nil
	case gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks, gosnmp.Counter64:
		n, ok := unsigned(pdu.Value)
		if !ok {
			return snmprec.Value{}, fmt.Errorf("%s: %s holds %T", pdu.Name, pdu.Type, pdu.Value)
		}
		return snmprec.Value{Type: snmprec.Type(pdu.Type), Uint: n}, nil
	}
	return snmprec.Value{}, fmt.Errorf("%s: no value (%s)", pdu.Name, pdu.Type)
}

// unsigned accepts the integer types gosnmp decodes counters into (uint for
// Counter32 and Gauge32, uint32 for TimeTicks, uint64 for Counter64).
func unsigned(v any) (uint64, bool) {
	switch n := v.(type) {
	case uint:
		return uint64(n), true
	case uint32:
		return uint64(n), true
	case uint64:
		return n, true
	case int:
		return uint64(n), n >= 0 //nolint:gosec // a negative n is reported as not ok
	}
	return 0, false
}
