package printer

import (
	"slices"
	"strconv"
	"strings"

	"github.com/meterline/meterline/agent/internal/snmp"
)

// Snapshot is everything fetched from one device, by OID. It is the input
// of Decode, so that decoding is a pure function of what the device said.
type Snapshot struct {
	// Missing names the subtrees the device went silent on, whose values
	// are therefore absent from the read.
	Missing []string
	sorted  []snmp.PDU
	// keys[i] is the sort key of sorted[i] (see oidKey).
	keys  []string
	byOID map[string]snmp.PDU
}

// NewSnapshot indexes pdus. A later binding for the same OID wins.
//
// Sorting is the costliest step of a read after the network, so each OID
// is turned once into a key that compares as bytes in OID order, rather
// than split arc by arc at every comparison.
func NewSnapshot(pdus []snmp.PDU) Snapshot {
	type keyed struct {
		key string
		pdu snmp.PDU
	}
	// All keys live in one string: one allocation, not one per binding.
	buf := make([]byte, 0, 2*len(pdus)*16)
	ends := make([]int, len(pdus))
	for i, p := range pdus {
		buf = appendOIDKey(buf, snmp.NormalizeOID(p.OID))
		ends[i] = len(buf)
	}
	keys := string(buf)
	all := make([]keyed, len(pdus))
	start := 0
	for i, p := range pdus {
		p.OID = snmp.NormalizeOID(p.OID)
		all[i] = keyed{key: keys[start:ends[i]], pdu: p}
		start = ends[i]
	}
	// Stable, so that of two bindings for one OID the later stays last.
	slices.SortStableFunc(all, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	s := Snapshot{
		sorted: make([]snmp.PDU, 0, len(all)),
		keys:   make([]string, 0, len(all)),
		byOID:  make(map[string]snmp.PDU, len(all)),
	}
	for i, k := range all {
		if i+1 < len(all) && all[i+1].key == k.key {
			continue // a later binding for the same OID follows
		}
		s.sorted = append(s.sorted, k.pdu)
		s.keys = append(s.keys, k.key)
		s.byOID[k.pdu.OID] = k.pdu
	}
	return s
}

// oidKey encodes an OID so that keys compare as strings in OID order: each
// arc becomes its byte count followed by its big-endian bytes, so a
// smaller number sorts first and a parent before its children. An arc that
// is not a 64-bit number (no agent should send one) sorts after all those.
func oidKey(oid string) string { return string(appendOIDKey(nil, oid)) }

func appendOIDKey(b []byte, oid string) []byte {
	for arc := range strings.SplitSeq(oid, ".") {
		n, err := strconv.ParseUint(arc, 10, 64)
		if err != nil {
			b = append(b, 0xff)
			b = append(b, arc...)
			b = append(b, 0)
			continue
		}
		size := 0
		for v := n; v > 0; v >>= 8 {
			size++
		}
		b = append(b, byte(size))
		for i := size - 1; i >= 0; i-- {
			b = append(b, byte(n>>(8*i))) //nolint:gosec // one byte of n at a time: truncating is the point
		}
	}
	return b
}

// search returns the index of the first binding at or after oid.
func (s Snapshot) search(oid string) int {
	i, _ := slices.BinarySearch(s.keys, oidKey(oid))
	return i
}

// Len is the number of bindings in the snapshot.
func (s Snapshot) Len() int { return len(s.sorted) }

func (s Snapshot) int(oid string) (int64, bool) {
	p, ok := s.byOID[oid]
	if !ok {
		return 0, false
	}
	return p.Int()
}

func (s Snapshot) bytes(oid string) ([]byte, bool) {
	p, ok := s.byOID[oid]
	if !ok {
		return nil, false
	}
	return p.Bytes()
}

func (s Snapshot) objectID(oid string) (string, bool) {
	p, ok := s.byOID[oid]
	if !ok {
		return "", false
	}
	return p.ObjectID()
}

// cell is one value of a table column, with the row index that follows
// the column OID ("1.5" for hrDeviceIndex 1, entry 5).
type cell struct {
	index string
	pdu   snmp.PDU
}

// column returns the cells below col, in index order.
func (s Snapshot) column(col string) []cell {
	var out []cell
	for _, p := range s.sorted[s.search(col):] {
		if p.OID == col {
			continue
		}
		if !snmp.InSubtree(col, p.OID) {
			break
		}
		out = append(out, cell{index: p.OID[len(col)+1:], pdu: p})
	}
	return out
}

// hasSubtree reports whether any value lies below root.
func (s Snapshot) hasSubtree(root string) bool {
	for i := s.search(root); i < len(s.sorted); i++ {
		if s.sorted[i].OID != root {
			return snmp.InSubtree(root, s.sorted[i].OID)
		}
	}
	return false
}

// splitIndex splits a two-part row index "device.entry" into its parts.
func splitIndex(index string) (device, entry int, ok bool) {
	d, e, found := strings.Cut(index, ".")
	if !found {
		return 0, 0, false
	}
	dv, err1 := strconv.Atoi(d)
	ev, err2 := strconv.Atoi(e)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return dv, ev, true
}
