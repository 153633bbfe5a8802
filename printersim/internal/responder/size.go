package responder

import "github.com/meterline/meterline/printersim/snmprec"

// varbindLen is the BER-encoded size of one varbind, SEQUENCE { name, value }.
// GetBulk uses it to stop before a response outgrows its budget; the
// encoding itself is gosnmp's.
func varbindLen(oid snmprec.OID, v snmprec.Value) int {
	return tlvLen(tlvLen(oidContentLen(oid)) + tlvLen(valueContentLen(v)))
}

func valueContentLen(v snmprec.Value) int {
	switch v.Type {
	case snmprec.Integer:
		return signedLen(v.Int)
	case snmprec.OctetString, snmprec.IPAddress:
		return len(v.Bytes)
	case snmprec.ObjectIdentifier:
		return oidContentLen(v.OID)
	case snmprec.Counter32, snmprec.Gauge32, snmprec.TimeTicks, snmprec.Counter64:
		return unsignedLen(v.Uint)
	}
	return 0 // NULL and the v2c exceptions have no content
}

// tlvLen is the size of a tag-length-value with content bytes of content:
// lengths up to 127 take one byte (short form), longer ones a count byte
// followed by the length in big-endian bytes (long form).
func tlvLen(content int) int {
	lengthBytes := 1
	if content > 0x7f {
		for n := content; n > 0; n >>= 8 {
			lengthBytes++
		}
	}
	return 1 + lengthBytes + content
}

// oidContentLen: the first two arcs share one sub-identifier (40·a + b),
// each sub-identifier takes 7 bits per byte.
func oidContentLen(oid snmprec.OID) int {
	if len(oid) < 2 {
		return base128Len(0)
	}
	n := base128Len(uint64(oid[0])*40 + uint64(oid[1]))
	for _, arc := range oid[2:] {
		n += base128Len(uint64(arc))
	}
	return n
}

func base128Len(v uint64) int {
	n := 1
	for ; v > 0x7f; v >>= 7 {
		n++
	}
	return n
}

// signedLen is the size of a two's-complement INTEGER's content.
func signedLen(v int64) int {
	n := 1
	for ; v > 127 || v < -128; v >>= 8 {
		n++
	}
	return n
}

// unsignedLen: an unsigned value whose top bit is set needs a leading zero
// byte to stay positive in BER.
func unsignedLen(v uint64) int {
	n := 1
	for ; v > 127; v >>= 8 {
		n++
	}
	return n
}
