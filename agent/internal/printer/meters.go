package printer

import (
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/meterline/meterline/agent/internal/profile"
	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// counters decodes the page meters of a device, one per kind: the vendor
// profile's counters first (the vendor's billing meters), then the PWG
// counter MIB, then prtMarkerLifeCount as the total, then the profile's
// fallback counters. A kind none of them gives is absent; nothing is
// derived from other meters.
func counters(s Snapshot, index int, prof *profile.Profile, log *slog.Logger) []wire.Counter {
	mr := meterReader{s: s, index: index, log: log}
	found := make(map[domain.CounterKind]wire.Counter, 4)
	add := func(c wire.Counter) {
		if _, ok := found[c.Kind]; !ok {
			found[c.Kind] = c
		}
	}
	fromProfile := func(fallback bool) {
		if prof == nil {
			return
		}
		for _, pc := range prof.Counters {
			if pc.Fallback != fallback {
				continue
			}
			if _, ok := found[pc.Kind]; ok {
				continue
			}
			if v, ok := mr.value(pc); ok {
				add(wire.Counter{Kind: pc.Kind, Value: v, Unit: pc.Unit, Source: pc.Source})
			}
		}
	}
	fromProfile(false)
	for _, c := range mr.pwgCounters() {
		add(c)
	}
	if c, ok := mr.lifeCounter(); ok {
		add(c)
	}
	fromProfile(true)

	if len(found) == 0 {
		return nil
	}
	out := make([]wire.Counter, 0, len(found))
	for _, kind := range profile.Kinds {
		if c, ok := found[kind]; ok {
			out = append(out, c)
		}
	}
	return out
}

// meterReader reads page meters from a snapshot. It indexes a counter
// table's name and code columns once, however many counters look rows up
// in them.
type meterReader struct {
	s     Snapshot
	index int
	log   *slog.Logger
	names map[string]map[string][]string // name column → lower-case name → rows
	codes map[string]map[int64][]string  // code column → code → rows
}

// meter reads a page meter at oid: an integer type, not negative. A
// string where a number belongs (or a Counter64 above the int64 range) is
// no meter; a negative count is none either, and is logged, as it means
// a device's billing meter is missing from its reads.
func (mr *meterReader) meter(oid string) (int64, bool) {
	p, ok := mr.s.byOID[oid]
	if !ok {
		return 0, false
	}
	return mr.meterOf(p)
}

// has reports whether the device answered oid with a value at all.
func (mr *meterReader) has(oid string) bool {
	_, ok := mr.s.byOID[oid]
	return ok
}

// meterOf is meter for a binding in hand.
func (mr *meterReader) meterOf(p snmp.PDU) (int64, bool) {
	v, ok := p.Int()
	if !ok {
		return 0, false
	}
	if v < 0 {
		mr.log.Warn("negative page counter dropped", "oid", p.OID, "type", p.Type.String(), "value", v)
		return 0, false
	}
	return v, true
}

// value resolves one profile counter.
func (mr *meterReader) value(c profile.Counter) (int64, bool) {
	s := mr.s
	switch {
	case c.Decoder == profile.DecodeBrotherCounters:
		// profile.Parse refuses a decoder without an item 0..255; a
		// profile built otherwise reads nothing rather than a wrong kind.
		if c.Item == nil || *c.Item < 0 || *c.Item > 255 {
			return 0, false
		}
		b, ok := s.bytes(c.OID)
		if !ok {
			return 0, false
		}
		return brotherCounter(b, byte(*c.Item))
	case strings.Contains(c.OID, profile.Wildcard):
		return mr.wildcardValue(c.OID)
	case c.OID != "":
		return mr.meter(c.OID)
	case len(c.Sum) > 0:
		// The meter is defined as the sum: every part must be there (an
		// optional part only on the models that have it), and the sum
		// must fit (parts near 2^63 are a broken device).
		var total int64
		parts := append(slices.Clip(c.Sum), c.Optional...)
		for i, oid := range parts {
			v, ok := mr.meter(oid)
			if !ok && i >= len(c.Sum) && !mr.has(oid) {
				continue
			}
			if !ok {
				return 0, false
			}
			if total > math.MaxInt64-v {
				mr.log.Warn("page counter sum overflows; dropped", "source", c.Source, "oids", strings.Join(parts, " "))
				return 0, false
			}
			total += v
		}
		return total, true
	case c.Table != nil:
		return mr.tableValue(*c.Table)
	}
	return 0, false
}

// wildcardValue resolves an OID with one "*" arc that stands for an
// hrDeviceIndex (Xerox xcmHrDevDetail): the printer's own index when the
// device has that row, else the lowest index that has it.
func (mr *meterReader) wildcardValue(oid string) (int64, bool) {
	prefix, suffix, _ := strings.Cut(oid, "."+profile.Wildcard)
	own := strconv.Itoa(mr.index)
	if v, ok := mr.meter(prefix + "." + own + suffix); ok {
		return v, true
	}
	for _, c := range mr.s.column(prefix) {
		arc, rest, _ := strings.Cut(c.index, ".")
		if "."+rest != suffix || arc == own {
			continue
		}
		return mr.meterOf(c.pdu)
	}
	return 0, false
}

// tableValue finds the one row of a counter table whose name or type code
// is listed, and reads its value. No row, or more than one (a table with
// duplicate names), gives no value: picking one would be a guess.
func (mr *meterReader) tableValue(t profile.Table) (int64, bool) {
	row := ""
	match := func(rows []string) bool {
		for _, r := range rows {
			if row != "" && row != r {
				return false
			}
			row = r
		}
		return true
	}
	if t.Name != "" {
		byName := mr.nameIndex(t.Name)
		for _, want := range t.Names {
			if !match(byName[strings.ToLower(want)]) {
				return 0, false
			}
		}
	}
	if t.Code != "" {
		byCode := mr.codeIndex(t.Code)
		for _, want := range t.Codes {
			if !match(byCode[want]) {
				return 0, false
			}
		}
	}
	if row == "" {
		return 0, false
	}
	return mr.meter(t.Value + "." + row)
}

func (mr *meterReader) nameIndex(col string) map[string][]string {
	if idx, ok := mr.names[col]; ok {
		return idx
	}
	idx := map[string][]string{}
	for _, c := range mr.s.column(col) {
		if b, ok := c.pdu.Bytes(); ok {
			name := strings.ToLower(cleanText(b))
			idx[name] = append(idx[name], c.index)
		}
	}
	if mr.names == nil {
		mr.names = map[string]map[string][]string{}
	}
	mr.names[col] = idx
	return idx
}

func (mr *meterReader) codeIndex(col string) map[int64][]string {
	if idx, ok := mr.codes[col]; ok {
		return idx
	}
	idx := map[int64][]string{}
	for _, c := range mr.s.column(col) {
		if v, ok := c.pdu.Int(); ok {
			idx[v] = append(idx[v], c.index)
		}
	}
	if mr.codes == nil {
		mr.codes = map[string]map[int64][]string{}
	}
	mr.codes[col] = idx
	return idx
}

// brotherCounter reads one meter from Brother's counter blob: words of a
// kind byte, a type byte (01), a length byte and a big-endian value of that
// length, closed by an FF checksum byte (bieniu/brother). The value of kind
// item is returned when it occurs exactly once in a well-formed blob.
func brotherCounter(b []byte, item byte) (int64, bool) {
	var value int64
	seen := 0
	for i := 0; i < len(b); {
		if b[i] == 0xff && i == len(b)-1 {
			break
		}
		if i+3 > len(b) {
			return 0, false
		}
		kind, length := b[i], int(b[i+2])
		start := i + 3
		if length == 0 || length > 4 || start+length > len(b) {
			return 0, false
		}
		if kind == item {
			var v int64
			for _, c := range b[start : start+length] {
				v = v<<8 | int64(c)
			}
			value = v
			seen++
		}
		i = start + length
	}
	if seen != 1 {
		return 0, false
	}
	return value, true
}

// pwgCounters reads the lifetime system totals of the PWG Imaging System
// Counter MIB: the icKeyTable row of service type systemTotals gives the
// key; icImpressionTable at key.workTotals.lifetime gives the meters.
func (mr *meterReader) pwgCounters() []wire.Counter {
	key := ""
	for _, c := range mr.s.column(oidICKeyServiceType) {
		if v, ok := c.pdu.Int(); ok && v == pwgServiceSystemTotals {
			key = c.index
			break
		}
	}
	if key == "" {
		return nil
	}
	row := key + "." + strconv.Itoa(pwgWorkTotals) + "." + strconv.Itoa(pwgLifetime)
	var out []wire.Counter
	for _, col := range pwgImpressionColumns {
		if v, ok := mr.meter(oidICImpressionEntry + "." + col.column + "." + row); ok {
			out = append(out, wire.Counter{Kind: col.kind, Value: v, Unit: domain.UnitImpressions, Source: "pwg:" + col.name})
		}
	}
	return out
}
