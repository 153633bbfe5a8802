package sim

import (
	"strings"

	"github.com/meterline/meterline/printersim/snmprec"
)

// ruleKind says how a dynamic value is computed.
type ruleKind uint8

const (
	meterRule  ruleKind = iota // counter: recorded value + pages printed
	supplyRule                 // level: falls with pages, refilled at 0
	uptimeRule                 // TimeTicks: recorded value + elapsed time
)

// Yields relative to one toner cartridge, for supplies that report in
// percent or other non-page units.
const (
	markingYieldFactor    = 1  // toner, ink
	receptacleYieldFactor = 4  // waste boxes fill slowly
	partYieldFactor       = 10 // drums, fusers, belts, kits
)

// rule makes one entry dynamic.
type rule struct {
	kind  ruleKind
	pages pageClass
	// Supply rules: the recorded level and capacity, and the pages one full
	// unit lasts — pageYield when the supply counts in pages, else
	// yieldFactor × the fleet's toner yield.
	level, capacity int64
	pageYield       int64
	yieldFactor     int64
}

// plan derives the device's dynamics from its table: which OIDs are page
// meters, which are supply levels, which are uptimes, and whether the
// device prints colour.
func (d *Device) plan() {
	d.color = d.detectColor()
	for _, m := range fixedMeters {
		d.addMeter(m.oid, m.pages)
	}
	d.planTableMeters()
	d.planSupplies()
	for _, oid := range uptimeOIDs {
		if i, ok := d.find(oid); ok && d.entries[i].value.Type == snmprec.TimeTicks {
			d.setRule(i, rule{kind: uptimeRule})
		}
	}
}

func (d *Device) setRule(i int, r rule) {
	d.entries[i].rule = len(d.rules)
	d.rules = append(d.rules, r)
}

// addMeter makes the numeric value at oid a page meter, if there is one.
func (d *Device) addMeter(oid snmprec.OID, pages pageClass) {
	i, ok := d.find(oid)
	if !ok {
		return
	}
	switch d.entries[i].value.Type {
	case snmprec.Integer, snmprec.Counter32, snmprec.Gauge32, snmprec.Counter64:
		d.setRule(i, rule{kind: meterRule, pages: pages})
	}
}

// planTableMeters finds the Ricoh and Sharp meters, whose indexes vary by
// model: the row's type code or name says what the value counts.
func (d *Device) planTableMeters() {
	for _, e := range d.subtree(ricohCounterType) {
		if pages, ok := ricohCounterCodes[e.value.Int]; ok && e.value.Type == snmprec.Integer {
			d.addMeter(ricohCounterValue.Append(e.oid[len(ricohCounterType):]...), pages)
		}
	}
	for _, e := range d.subtree(sharpCounterName) {
		if pages, ok := sharpCounterNames[string(e.value.Bytes)]; ok && e.value.Type == snmprec.OctetString {
			d.addMeter(sharpCounterValue.Append(e.oid[len(sharpCounterName):]...), pages)
		}
	}
}

// planSupplies makes supply levels deplete. Only plain levels move: a
// supply needs a positive capacity and 0 ≤ level ≤ capacity; the special
// values (-1 other, -2 unknown, -3 some remaining, Ricoh's -100) and levels
// above capacity stay as recorded, so a decoder sees them on every poll.
func (d *Device) planSupplies() {
	levelColumn := suppliesTable.Append(supplyLevel)
	start, end := d.subtreeBounds(levelColumn)
	for i := start; i < end; i++ {
		e := d.entries[i]
		index := e.oid[len(levelColumn):] // hrDeviceIndex.prtMarkerSuppliesIndex
		if len(index) != 2 || e.value.Type != snmprec.Integer {
			continue
		}
		column := func(col uint32) snmprec.Value {
			v, _ := d.lookup(suppliesTable.Append(col).Append(index...))
			return v
		}
		class, capacity, level := column(supplyClass).Int, column(supplyMax).Int, e.value.Int
		if (class != classConsumed && class != classReceptacle) || capacity <= 0 || level < 0 || level > capacity {
			continue
		}
		r := rule{kind: supplyRule, pages: allPages, level: level, capacity: capacity}
		if class == classConsumed && d.isColorSupply(index[0], column(supplyColorant).Int, column(supplyDescr).Bytes) {
			r.pages = colorPages
		}
		switch unit := column(supplyUnit).Int; {
		case unit == unitImpressions || unit == unitSheets:
			r.pageYield = capacity // the capacity is the yield
		case class == classReceptacle:
			r.yieldFactor = receptacleYieldFactor
		case markingTypes[column(supplyType).Int]:
			r.yieldFactor = markingYieldFactor
		default:
			r.yieldFactor = partYieldFactor
		}
		d.setRule(i, r)
	}
}

// isColorSupply tells colour toner (worn by colour pages only) from black
// toner and shared parts (worn by every page). The colorant table decides;
// without it, the description does.
func (d *Device) isColorSupply(hrDeviceIndex uint32, colorant int64, descr []byte) bool {
	if colorant > 0 {
		index := uint32(colorant) //nolint:gosec // 0 < colorant: an Integer32 index, it fits
		if name, ok := d.lookup(colorantValueColumn.Append(hrDeviceIndex, index)); ok {
			return isColorName(string(name.Bytes))
		}
	}
	text := strings.ToLower(string(descr))
	return strings.Contains(text, "cyan") || strings.Contains(text, "magenta") || strings.Contains(text, "yellow")
}

// isColorName reports whether a prtMarkerColorantValue names a colour
// other than black ("photo black" and "matte black" are black).
func isColorName(name string) bool {
	name = strings.ToLower(strings.TrimSpace(name))
	return name != "" && name != "unknown" && !strings.Contains(name, "black")
}

// detectColor decides whether the device prints colour, preferring the
// Printer-MIB over vendor counters.
func (d *Device) detectColor() bool {
	if v, ok := d.lookup(processColorants); ok && v.Type == snmprec.Integer {
		return v.Int > 1
	}
	if colorants := d.subtree(colorantValueColumn); len(colorants) > 0 {
		for _, e := range colorants {
			if isColorName(string(e.value.Bytes)) {
				return true
			}
		}
		return false
	}
	for _, m := range fixedMeters {
		if v, ok := d.lookup(m.oid); ok && m.pages == colorPages && v.Type != snmprec.OctetString {
			return true
		}
	}
	return false
}

// subtree returns the entries strictly below prefix.
func (d *Device) subtree(prefix snmprec.OID) []entry {
	start, end := d.subtreeBounds(prefix)
	return d.entries[start:end]
}

// subtreeBounds returns the index range of the entries strictly below
// prefix: they follow prefix in SNMP order, contiguously.
func (d *Device) subtreeBounds(prefix snmprec.OID) (start, end int) {
	start = d.after(prefix)
	end = start
	for end < len(d.entries) && d.entries[end].oid.HasPrefix(prefix) {
		end++
	}
	return start, end
}
