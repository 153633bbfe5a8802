package snmprec

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"unicode/utf8"
)

// Type is an SNMP value type, numbered as snmprec numbers it: the decimal
// value of the BER tag (64 = 0x40 IpAddress, 65 = 0x41 Counter32, …).
type Type uint8

// The value types snmprec files carry and the simulator serves.
const (
	Integer          Type = 2
	OctetString      Type = 4
	Null             Type = 5
	ObjectIdentifier Type = 6
	IPAddress        Type = 64
	Counter32        Type = 65
	Gauge32          Type = 66
	TimeTicks        Type = 67
	Counter64        Type = 70
)

// String returns the SMI name of the type.
func (t Type) String() string {
	switch t {
	case Integer:
		return "Integer32"
	case OctetString:
		return "OCTET STRING"
	case Null:
		return "NULL"
	case ObjectIdentifier:
		return "OBJECT IDENTIFIER"
	case IPAddress:
		return "IpAddress"
	case Counter32:
		return "Counter32"
	case Gauge32:
		return "Gauge32"
	case TimeTicks:
		return "TimeTicks"
	case Counter64:
		return "Counter64"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Unsigned reports whether values of the type live in Value.Uint.
func (t Type) Unsigned() bool {
	switch t {
	case Counter32, Gauge32, TimeTicks, Counter64:
		return true
	}
	return false
}

// Value is one typed SNMP value. Only the field that matches Type is used:
// Int for Integer; Uint for Counter32, Gauge32, TimeTicks and Counter64;
// Bytes for OctetString and IPAddress (4 bytes); OID for ObjectIdentifier.
type Value struct {
	Type  Type
	Int   int64
	Uint  uint64
	Bytes []byte
	OID   OID
}

// Equal reports whether v and w have the same type and value.
func (v Value) Equal(w Value) bool {
	if v.Type != w.Type {
		return false
	}
	switch v.Type {
	case Integer:
		return v.Int == w.Int
	case OctetString, IPAddress:
		return bytes.Equal(v.Bytes, w.Bytes)
	case ObjectIdentifier:
		return v.OID.Equal(w.OID)
	case Null:
		return true
	}
	return v.Uint == w.Uint
}

// Number returns the value of a numeric type as an int64 (Counter64 values
// above MaxInt64 do not fit and report false).
func (v Value) Number() (int64, bool) {
	switch {
	case v.Type == Integer:
		return v.Int, true
	case v.Type.Unsigned() && v.Uint <= 1<<63-1:
		return int64(v.Uint), true
	}
	return 0, false
}

// String formats the value for people: numbers in decimal, printable
// strings as text and other strings as hex.
func (v Value) String() string {
	switch v.Type {
	case Integer:
		return strconv.FormatInt(v.Int, 10)
	case OctetString:
		if printable(v.Bytes) {
			return strconv.Quote(string(v.Bytes))
		}
		return fmt.Sprintf("0x%x", v.Bytes)
	case Null:
		return "NULL"
	case ObjectIdentifier:
		return v.OID.String()
	case IPAddress:
		if addr, ok := netip.AddrFromSlice(v.Bytes); ok {
			return addr.String()
		}
		return fmt.Sprintf("0x%x", v.Bytes)
	}
	return strconv.FormatUint(v.Uint, 10)
}

// text returns the snmprec tag and value field that encode v.
func (v Value) text() (tag, text string) {
	switch v.Type {
	case OctetString:
		if printable(v.Bytes) {
			return "4", string(v.Bytes)
		}
		return "4x", fmt.Sprintf("%x", v.Bytes)
	case IPAddress:
		return "64x", fmt.Sprintf("%x", v.Bytes)
	case Null:
		return "5", ""
	}
	return strconv.Itoa(int(v.Type)), v.String()
}

// printable reports whether b can be written as a plain snmprec string: valid
// UTF-8 without control characters (a newline would end the record).
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
