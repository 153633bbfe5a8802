// Package snmp reads values from SNMP agents. Client is the small interface
// the rest of the agent uses; Dial returns one backed by gosnmp, and package
// snmptest has a fake built from snmprec recordings.
package snmp

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Type is the SNMP syntax of a value, reduced to what printers send.
type Type uint8

// Value types.
const (
	TypeInteger Type = iota + 1
	TypeOctetString
	TypeObjectID
	TypeIPAddress
	TypeCounter32
	TypeGauge32
	TypeTimeTicks
	TypeCounter64
	TypeOpaque
	TypeNull
)

var typeNames = map[Type]string{
	TypeInteger:     "Integer",
	TypeOctetString: "OctetString",
	TypeObjectID:    "ObjectIdentifier",
	TypeIPAddress:   "IpAddress",
	TypeCounter32:   "Counter32",
	TypeGauge32:     "Gauge32",
	TypeTimeTicks:   "TimeTicks",
	TypeCounter64:   "Counter64",
	TypeOpaque:      "Opaque",
	TypeNull:        "Null",
}

// String names the type as the SNMP SMI does.
func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// PDU is one variable binding: an OID and its value. OIDs are dotted
// decimal without a leading dot. Value holds an int64 for Integer, Counter32,
// Gauge32 and TimeTicks (a uint64 when a broken agent sends one above the
// int64 range), a uint64 for Counter64, a []byte for OctetString and
// Opaque, and a string for ObjectIdentifier (dotted, no leading dot) and
// IpAddress; it is nil for Null.
type PDU struct {
	OID   string
	Type  Type
	Value any
}

// Int returns the value as an integer when it is one (Counter64 values
// above the int64 range do not fit and are refused).
func (p PDU) Int() (int64, bool) {
	switch v := p.Value.(type) {
	case int64:
		return v, true
	case uint64:
		if v > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	default:
		return 0, false
	}
}

// Bytes returns the raw bytes of an OctetString or Opaque value.
func (p PDU) Bytes() ([]byte, bool) {
	b, ok := p.Value.([]byte)
	return b, ok
}

// ObjectID returns the value of an ObjectIdentifier, dotted, no leading dot.
func (p PDU) ObjectID() (string, bool) {
	if p.Type != TypeObjectID {
		return "", false
	}
	s, ok := p.Value.(string)
	return s, ok
}

// String renders the binding for logs and test failures.
func (p PDU) String() string {
	switch v := p.Value.(type) {
	case []byte:
		return fmt.Sprintf("%s = %s: %q", p.OID, p.Type, v)
	default:
		return fmt.Sprintf("%s = %s: %v", p.OID, p.Type, v)
	}
}

// NormalizeOID strips blanks and the leading dot that gosnmp and net-snmp
// put in front of OIDs, so that OIDs compare as plain strings.
func NormalizeOID(oid string) string {
	return strings.TrimPrefix(strings.TrimSpace(oid), ".")
}

// InSubtree reports whether oid lies strictly below root.
func InSubtree(root, oid string) bool {
	return len(oid) > len(root) && strings.HasPrefix(oid, root) && oid[len(root)] == '.'
}

// CompareOIDs orders OIDs arc by arc, numerically, as agents order them
// (so 1.10 sorts after 1.9). It returns -1, 0 or +1.
func CompareOIDs(a, b string) int {
	for a != "" || b != "" {
		if a == "" {
			return -1
		}
		if b == "" {
			return 1
		}
		var arcA, arcB string
		arcA, a, _ = strings.Cut(a, ".")
		arcB, b, _ = strings.Cut(b, ".")
		if c := compareArcs(arcA, arcB); c != 0 {
			return c
		}
	}
	return 0
}

// compareArcs compares two decimal arcs without parsing them, so that arcs
// beyond 32 bits still order correctly.
func compareArcs(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	default:
		return strings.Compare(a, b)
	}
}
