// Package printer reads a printer over SNMP and decodes what it says into
// a wire.DeviceRead: the standard MIBs, and the vendor-private meters and
// identity values that the device's vendor profile (package profile)
// points to. Fetch does the SNMP round trips; Decode is the pure function from
// the values fetched to the read, tested against recordings of real
// devices; Read does both.
package printer

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/meterline/meterline/agent/internal/profile"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// NotPrinterError says that a device answers SNMP but is not a printer: it
// has neither the Printer-MIB nor a printer row in hrDeviceTable, and does
// not identify as a printer (a printer vendor's enterprise and a sysDescr
// naming a printer); one that does is read for its identity.
type NotPrinterError struct {
	SysDescr string
}

// Error implements error.
func (e *NotPrinterError) Error() string {
	if e.SysDescr == "" {
		return "not a printer: the device answers SNMP but has no Printer-MIB and no printer in hrDeviceTable"
	}
	return fmt.Sprintf("not a printer: the device answers SNMP but has no Printer-MIB and no printer in hrDeviceTable (sysDescr %q)", e.SysDescr)
}

// defaultPrinterIndex is the hrDeviceIndex used when no hrDeviceTable row
// says "printer": the Printer-MIB tables of nearly every device use 1.
const defaultPrinterIndex = 1

// Decode turns the values fetched from one device into a read, with the
// reader's profiles. Address and ReadAt are left to the caller. It
// returns a *NotPrinterError for a device that is not a printer. It is a
// pure function of the snapshot (but for the log lines of values it drops).
//
// Whatever the device sends, the read it gives meets the bounds of
// wire.DeviceRead.Validate: a value of the wrong type, out of range or
// negative where a count belongs costs only its own field; text is cut to
// its bound; percentages are 0..100.
func (rd Reader) Decode(s Snapshot) (wire.DeviceRead, error) {
	log := rd.logger()
	sysDescr := ""
	if b, ok := s.bytes(oidSysDescr); ok {
		sysDescr = boundText(cleanText(b), wire.MaxTextLen)
	}
	sysObjectID, _ := s.objectID(oidSysObjectID)

	index, hasPrinterRow := printerIndex(s)
	if !hasPrinterRow && !s.hasSubtree(oidPrinterMIB) && !identifiesAsPrinter(rd.profiles(), enterpriseOf(sysObjectID), sysDescr) {
		return wire.DeviceRead{}, &NotPrinterError{SysDescr: sysDescr}
	}
	suffix := "." + strconv.Itoa(index)

	vendor := vendorOf(sysObjectID, sysDescr)
	prof := rd.match(sysObjectID, sysDescr, vendor)
	if prof != nil {
		vendor = prof.Vendor
	}
	r := wire.DeviceRead{
		Vendor: boundText(vendor, wire.MaxTextLen),
		Serial: serialOf(s, suffix, prof),
		MAC:    macOf(s),
		Model:  boundText(modelOf(s, suffix, hasPrinterRow, sysDescr, prof), wire.MaxTextLen),
	}
	if len(r.Serial) > wire.MaxSerialLen {
		// Cut, it would name another device: without one, the read is
		// keyed by its MAC or address.
		log.Warn("serial number longer than the wire allows dropped", "bytes", len(r.Serial), "max", wire.MaxSerialLen)
		r.Serial = ""
	}
	if prof != nil {
		r.Firmware = boundText(firstText(s, prof.Identity.Firmware), wire.MaxTextLen)
	}
	r.Counters, r.Unreported = billingMeters(counters(s, index, prof, log), markingOf(s, index))
	r.Supplies = supplies(s, index, r.Vendor)
	if n := len(r.Supplies); n > wire.MaxListLen {
		log.Warn("more supplies than the wire allows; the first kept", "supplies", n, "kept", wire.MaxListLen)
		r.Supplies = r.Supplies[:wire.MaxListLen]
	}
	r.Status = status(s, suffix)
	return r, nil
}

// modelOf is hrDeviceDescr of the printer, unless the profile calls it a
// generic platform name; else the profile's model OIDs; else sysDescr.
func modelOf(s Snapshot, suffix string, hasPrinterRow bool, sysDescr string, prof *profile.Profile) string {
	if b, ok := s.bytes(oidHrDeviceDescr + suffix); ok && hasPrinterRow {
		if m := cleanText(b); m != "" && (prof == nil || !prof.IsGenericModel(m)) {
			return m
		}
	}
	if prof != nil {
		if m := firstText(s, prof.Identity.Model); m != "" {
			return m
		}
	}
	return sysDescr
}

// firstText is the first of the candidates that the device has, decoded,
// and not blank.
func firstText(s Snapshot, candidates []profile.Text) string {
	for _, t := range candidates {
		if b, ok := s.bytes(t.OID); ok {
			if v := strings.Trim(decodeText(b, t.Decode), " \t\r\n\x00"); v != "" {
				return v
			}
		}
	}
	return ""
}

// printerIndex finds the hrDeviceIndex of the printer: the first row whose
// hrDeviceType is hrDevicePrinter.
func printerIndex(s Snapshot) (int, bool) {
	for _, c := range s.column(oidHrDeviceType) {
		if id, ok := c.pdu.ObjectID(); ok && id == oidHrDevicePrinter {
			if n, err := strconv.Atoi(c.index); err == nil {
				return n, true
			}
		}
	}
	return defaultPrinterIndex, false
}

// serialOf reads prtGeneralSerialNumber of the printer, else of the first
// row that has one, else the profile's serial OIDs.
func serialOf(s Snapshot, suffix string, prof *profile.Profile) string {
	if b, ok := s.bytes(oidPrtGeneralSerialNumber + suffix); ok {
		if sn := cleanSerial(b); sn != "" {
			return sn
		}
	}
	for _, c := range s.column(oidPrtGeneralSerialNumber) {
		if b, ok := c.pdu.Bytes(); ok {
			if sn := cleanSerial(b); sn != "" {
				return sn
			}
		}
	}
	if prof != nil {
		return firstText(s, prof.Identity.Serial)
	}
	return ""
}

// macOf is the ifPhysAddress of the first interface that has one.
func macOf(s Snapshot) string {
	for _, c := range s.column(oidIfPhysAddress) {
		if b, ok := c.pdu.Bytes(); ok {
			if mac, ok := formatMAC(b); ok {
				return mac
			}
		}
	}
	return ""
}

// Printer-MIB prtMarkerCounterUnit values that count pages.
var pageUnits = map[int64]domain.CounterUnit{
	7: domain.UnitImpressions,
	8: domain.UnitSheets,
}

// lifeCounter is prtMarkerLifeCount of the printer's first marker, as the
// total page count. Other markers mostly repeat it. A marker counting in
// another unit (hours, meters of label stock, …) is no page counter.
func (mr *meterReader) lifeCounter() (wire.Counter, bool) {
	cells := rowsOf(mr.s.column(oidPrtMarkerLifeCount), mr.index)
	if len(cells) == 0 {
		return wire.Counter{}, false
	}
	first := cells[0]
	unitCode, _ := mr.s.int(oidPrtMarkerCounterUnit + "." + first.index)
	unit, ok := pageUnits[unitCode]
	if !ok {
		return wire.Counter{}, false
	}
	value, ok := mr.meterOf(first.pdu)
	if !ok {
		return wire.Counter{}, false
	}
	return wire.Counter{Kind: domain.CounterTotal, Value: value, Unit: unit, Source: "prtMarkerLifeCount"}, true
}

// rowsOf keeps the cells of a Printer-MIB column whose hrDeviceIndex is
// index. If none has it, the device numbered its tables differently from
// hrDeviceTable, and the cells of the lowest hrDeviceIndex are kept.
func rowsOf(cells []cell, index int) []cell {
	var mine, lowest []cell
	lowestDevice := -1
	for _, c := range cells {
		device, _, ok := splitIndex(c.index)
		if !ok {
			continue
		}
		if device == index {
			mine = append(mine, c)
		}
		switch {
		case lowestDevice == -1 || device < lowestDevice:
			lowestDevice, lowest = device, []cell{c}
		case device == lowestDevice:
			lowest = append(lowest, c)
		}
	}
	if len(mine) > 0 {
		return mine
	}
	return lowest
}

// supplies decodes prtMarkerSuppliesTable, joined to the colorant table.
func supplies(s Snapshot, index int, vendor string) []wire.Supply {
	var out []wire.Supply
	for _, c := range rowsOf(s.column(oidPrtMarkerSuppliesLevel), index) {
		out = append(out, supply(s, c.index, vendor))
	}
	// A row without a level column still describes a supply.
	if len(out) == 0 {
		for _, c := range rowsOf(s.column(oidPrtMarkerSuppliesDescription), index) {
			out = append(out, supply(s, c.index, vendor))
		}
	}
	return out
}

func supply(s Snapshot, row string, vendor string) wire.Supply {
	device, entry, _ := splitIndex(row)
	col := func(oid string) string { return oid + "." + row }

	sp := wire.Supply{Index: entry}
	if b, ok := s.bytes(col(oidPrtMarkerSuppliesDescription)); ok {
		sp.Description = boundText(cleanText(b), wire.MaxTextLen)
	}
	typ, hasType := s.int(col(oidPrtMarkerSuppliesType))
	sp.Kind = supplyKind(typ, hasType, sp.Description)

	if ci, ok := s.int(col(oidPrtMarkerSuppliesColorantIndex)); ok && ci > 0 {
		key := oidPrtMarkerColorantValue + "." + strconv.Itoa(device) + "." + strconv.FormatInt(ci, 10)
		if b, ok := s.bytes(key); ok {
			sp.Colour = cleanColour(b)
		}
	}
	if sp.Colour == "" {
		sp.Colour = colourFromDescription(sp.Description)
	}
	sp.PartNumber = partNumber(sp.Description)
	if u, ok := s.int(col(oidPrtMarkerSuppliesSupplyUnit)); ok {
		sp.Unit = supplyUnits[u]
	}

	// The class says whether the level is what is left (consumed) or the
	// space left (receptacle). Recordings and some devices leave it out;
	// then a waste container is taken for the receptacle it is.
	class, hasClass := s.int(col(oidPrtMarkerSuppliesClass))
	switch {
	case hasClass && class == classReceptacle:
		sp.Receptacle = true
	case hasClass && class == classConsumed:
	default:
		sp.Receptacle = sp.Kind == domain.SupplyWaste
	}

	if v, ok := s.int(col(oidPrtMarkerSuppliesLevel)); ok {
		sp.Level = &v
	}
	if v, ok := s.int(col(oidPrtMarkerSuppliesMaxCapacity)); ok {
		sp.Capacity = &v
	}
	lv := decodeLevel(sp.Level, sp.Capacity, sp.Receptacle, vendor)
	sp.State, sp.Percent, sp.FullPercent = lv.state, lv.percent, lv.fullPercent
	return sp
}

// status decodes hrDeviceStatus, hrPrinterStatus and the detected error
// state of the printer; nil when the device reports none of them.
func status(s Snapshot, suffix string) *wire.Status {
	var st wire.Status
	if v, ok := s.int(oidHrDeviceStatus + suffix); ok {
		st.Device = deviceStates[v]
	}
	if v, ok := s.int(oidHrPrinterStatus + suffix); ok {
		st.Printer = printerStates[v]
	}
	if b, ok := s.bytes(oidHrPrinterDetectedErrorState + suffix); ok {
		st.Conditions = conditions(b)
	}
	if st.Device == "" && st.Printer == "" && len(st.Conditions) == 0 {
		return nil
	}
	return &st
}
