package snmprec

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// OID is a parsed object identifier. Comparing parsed arcs (not strings) is
// what gives SNMP's lexicographic order: 1.3.6.1.2 < 1.3.6.1.10.
type OID []uint32

// ParseOID parses a dotted OID such as "1.3.6.1.2.1.1.1.0" or
// ".1.3.6.1.2.1.1.1.0" (the leading dot gosnmp and net-snmp print is
// accepted). It rejects OIDs that BER cannot encode: fewer than two arcs, a
// first arc above 2, or a second arc above 39 under arcs 0 and 1.
func ParseOID(s string) (OID, error) {
	text := strings.TrimPrefix(s, ".")
	if text == "" {
		return nil, errors.New("empty OID")
	}
	oid := make(OID, 0, strings.Count(text, ".")+1)
	for part := range strings.SplitSeq(text, ".") {
		arc, err := strconv.ParseUint(part, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("OID %q: arc %q is not a 32-bit unsigned number", s, part)
		}
		oid = append(oid, uint32(arc))
	}
	if err := oid.validate(); err != nil {
		return nil, fmt.Errorf("OID %q: %w", s, err)
	}
	return oid, nil
}

// MustParseOID is ParseOID for OIDs written in the source code; it panics on
// a malformed OID.
func MustParseOID(s string) OID {
	oid, err := ParseOID(s)
	if err != nil {
		panic(err)
	}
	return oid
}

func (o OID) validate() error {
	switch {
	case len(o) < 2:
		return errors.New("an OID needs at least two arcs")
	case o[0] > 2:
		return errors.New("first arc must be 0, 1 or 2")
	case o[0] < 2 && o[1] > 39:
		return errors.New("second arc must be below 40 under arcs 0 and 1")
	}
	return nil
}

// String returns the dotted form without a leading dot, as snmprec files
// write it.
func (o OID) String() string {
	var b strings.Builder
	b.Grow(len(o) * 4)
	for i, arc := range o {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatUint(uint64(arc), 10))
	}
	return b.String()
}

// Compare orders OIDs arc by arc; a prefix sorts before its descendants.
// It returns -1, 0 or +1.
func Compare(a, b OID) int {
	return slices.Compare(a, b)
}

// HasPrefix reports whether o equals prefix or lies below it.
func (o OID) HasPrefix(prefix OID) bool {
	return len(o) >= len(prefix) && slices.Equal(o[:len(prefix)], prefix)
}

// Equal reports whether o and other are the same OID.
func (o OID) Equal(other OID) bool {
	return slices.Equal(o, other)
}

// Append returns a new OID made of o followed by arcs; o is not modified.
func (o OID) Append(arcs ...uint32) OID {
	out := make(OID, 0, len(o)+len(arcs))
	return append(append(out, o...), arcs...)
}
