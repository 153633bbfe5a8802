package responder

import (
	"github.com/gosnmp/gosnmp"

	"github.com/meterline/meterline/printersim/snmprec"
)

// get answers a GetRequest. v2c reports a missing OID in its varbind
// (noSuchObject / noSuchInstance); v1 fails the whole request with
// noSuchName and the 1-based index of the first missing varbind.
func get(req request, view View) response {
	vars := make([]gosnmp.SnmpPDU, len(req.names))
	for i, oid := range req.names {
		value, ok := view.Get(oid)
		name := req.Variables[i].Name
		switch {
		case ok && servable(req.Version, value):
			vars[i] = toPDU(name, value)
		case req.Version == gosnmp.Version1:
			return echo(req, gosnmp.NoSuchName, i+1)
		default:
			vars[i] = gosnmp.SnmpPDU{Name: name, Type: missing(view, oid)}
		}
	}
	return response{vars: vars}
}

// getNext answers a GetNextRequest: the first OID after each requested one.
// Past the last OID, v2c answers endOfMibView and v1 noSuchName.
func getNext(req request, view View) response {
	vars := make([]gosnmp.SnmpPDU, len(req.names))
	for i, oid := range req.names {
		next, value, ok := nextServable(req.Version, view, oid)
		switch {
		case ok:
			vars[i] = toPDU(dotted(next), value)
		case req.Version == gosnmp.Version1:
			return echo(req, gosnmp.NoSuchName, i+1)
		default:
			vars[i] = gosnmp.SnmpPDU{Name: req.Variables[i].Name, Type: gosnmp.EndOfMibView}
		}
	}
	return response{vars: vars}
}

// getBulk answers a GetBulkRequest (RFC 3416 §4.2.3): one GetNext for each of
// the first non-repeaters varbinds, then up to max-repetitions rounds of
// GetNext over the remaining ones. The response is cut short, at any varbind,
// once the varbinds pass the bulk byte budget, and it stops early when every
// repeater has reached endOfMibView.
func (r *Responder) getBulk(req request, view View) response {
	// gosnmp decodes non-repeaters into a uint8 and max-repetitions into 31
	// bits; negative values arrive as large ones and are clamped here.
	nonRepeaters := min(int(req.NonRepeaters), len(req.names))
	maxRepetitions := int(req.MaxRepetitions)
	hardLimit := MaxDatagram - messageOverhead - len(req.Community)

	vars := make([]gosnmp.SnmpPDU, 0, nonRepeaters+min(maxRepetitions, 64))
	size := 0
	for i := range nonRepeaters {
		pdu, n := nextOrEnd(view, req.names[i])
		vars = append(vars, pdu)
		size += n
	}
	if size > hardLimit {
		return response{status: gosnmp.TooBig}
	}

	cursors := append([]snmprec.OID(nil), req.names[nonRepeaters:]...)
	ended := make([]bool, len(cursors))
	for rep := 0; rep < maxRepetitions && len(cursors) > 0; rep++ {
		if rep > 0 && allTrue(ended) {
			break
		}
		for j, cursor := range cursors {
			var pdu gosnmp.SnmpPDU
			var n int
			if ended[j] {
				pdu, n = endOfMibView(cursor)
			} else {
				next, value, ok := view.Next(cursor)
				if ok {
					cursors[j] = next
					pdu, n = toPDU(dotted(next), value), varbindLen(next, value)
				} else {
					ended[j] = true
					pdu, n = endOfMibView(cursor)
				}
			}
			first := rep == 0 && j == 0
			if size+n > hardLimit || (!first && size+n > r.bulkBytes) {
				if first && nonRepeaters == 0 {
					return response{status: gosnmp.TooBig}
				}
				return response{vars: vars}
			}
			vars = append(vars, pdu)
			size += n
		}
	}
	return response{vars: vars}
}

// set refuses every SetRequest: the simulated printers are read-only.
// v2c has notWritable for that; v1 predates it and uses readOnly.
func set(req request) response {
	status := gosnmp.NotWritable
	if req.Version == gosnmp.Version1 {
		status = gosnmp.ReadOnly
	}
	index := 0
	if len(req.names) > 0 {
		index = 1
	}
	return echo(req, status, index)
}

// echo is an error response that carries the request's varbinds back, as
// RFC 1157 and RFC 3416 want for errors tied to a varbind.
func echo(req request, status gosnmp.SNMPError, index int) response {
	return response{status: status, index: index, vars: req.Variables}
}

// servable reports whether a value can be sent in the given version:
// SNMPv1 has no Counter64 (RFC 3584 §4.2.2.1 has v1 agents skip them).
func servable(version gosnmp.SnmpVersion, v snmprec.Value) bool {
	return version != gosnmp.Version1 || v.Type != snmprec.Counter64
}

func nextServable(version gosnmp.SnmpVersion, view View, oid snmprec.OID) (snmprec.OID, snmprec.Value, bool) {
	for {
		next, value, ok := view.Next(oid)
		if !ok || servable(version, value) {
			return next, value, ok
		}
		oid = next
	}
}

// nextOrEnd is one GetNext step for GetBulk, with the encoded size of the
// varbind it yields.
func nextOrEnd(view View, oid snmprec.OID) (gosnmp.SnmpPDU, int) {
	next, value, ok := view.Next(oid)
	if !ok {
		return endOfMibView(oid)
	}
	return toPDU(dotted(next), value), varbindLen(next, value)
}

func endOfMibView(oid snmprec.OID) (gosnmp.SnmpPDU, int) {
	return gosnmp.SnmpPDU{Name: dotted(oid), Type: gosnmp.EndOfMibView}, varbindLen(oid, snmprec.Value{Type: snmprec.Null})
}

// missing tells noSuchInstance from noSuchObject for a v2c Get: without a
// MIB, an OID whose parent has children is taken as an instance of a known
// object (sysDescr.1 next to sysDescr.0), anything else as an unknown object.
func missing(view View, oid snmprec.OID) gosnmp.Asn1BER {
	parent := oid[:len(oid)-1]
	if next, _, ok := view.Next(parent); ok && next.HasPrefix(parent) {
		return gosnmp.NoSuchInstance
	}
	return gosnmp.NoSuchObject
}

func allTrue(flags []bool) bool {
	for _, f := range flags {
		if !f {
			return false
		}
	}
	return true
}

func dotted(oid snmprec.OID) string {
	return "." + oid.String()
}
