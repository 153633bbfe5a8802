package sim

import (
	"os"
	"strings"
	"testing"

	"github.com/meterline/meterline/printersim/snmprec"
)

// Every demo fixture carries what an agent needs to identify and read a
// printer.
var requiredOIDs = []string{
	"1.3.6.1.2.1.1.1.0",           // sysDescr
	"1.3.6.1.2.1.1.2.0",           // sysObjectID
	"1.3.6.1.2.1.1.3.0",           // sysUpTime
	"1.3.6.1.2.1.1.5.0",           // sysName
	"1.3.6.1.2.1.25.3.2.1.2.1",    // hrDeviceType
	"1.3.6.1.2.1.25.3.2.1.3.1",    // hrDeviceDescr
	"1.3.6.1.2.1.25.3.2.1.5.1",    // hrDeviceStatus
	"1.3.6.1.2.1.25.3.5.1.1.1",    // hrPrinterStatus
	"1.3.6.1.2.1.25.3.5.1.2.1",    // hrPrinterDetectedErrorState
	"1.3.6.1.2.1.43.10.2.1.3.1.1", // prtMarkerCounterUnit
	"1.3.6.1.2.1.43.10.2.1.4.1.1", // prtMarkerLifeCount
	"1.3.6.1.2.1.43.11.1.1.9.1.1", // a supply level
	"1.3.6.1.2.1.43.12.1.1.4.1.1", // a colorant
}

func TestDemoFleet(t *testing.T) {
	devs := DemoFleet()
	if len(devs) < 12 {
		t.Errorf("demo fleet has %d devices, want at least 12", len(devs))
	}
	readme, err := os.ReadFile("fleet/README.md")
	if err != nil {
		t.Fatal(err)
	}
	vendors := map[uint32]bool{}
	serials := map[string]string{}
	var mono, color, vendorSerialOnly int
	for _, dev := range devs {
		get := func(oid string) (snmprec.Value, bool) { return dev.lookup(snmprec.MustParseOID(oid)) }
		for _, oid := range requiredOIDs {
			if _, ok := get(oid); !ok {
				t.Errorf("%s lacks %s", dev.Name(), oid)
			}
		}
		if v, _ := get("1.3.6.1.2.1.25.3.2.1.2.1"); v.OID.String() != "1.3.6.1.2.1.25.3.1.5" {
			t.Errorf("%s: hrDeviceType.1 = %v, want hrDevicePrinter", dev.Name(), v)
		}
		if v, _ := get("1.3.6.1.2.1.25.3.5.1.2.1"); v.Type != snmprec.OctetString {
			t.Errorf("%s: hrPrinterDetectedErrorState is %s, want OCTET STRING", dev.Name(), v.Type)
		}
		if v, _ := get("1.3.6.1.2.1.43.10.2.1.3.1.1"); v.Int != 7 && v.Int != 8 {
			t.Errorf("%s: prtMarkerCounterUnit = %d, want 7 or 8", dev.Name(), v.Int)
		}
		if v, _ := get("1.3.6.1.2.1.1.2.0"); len(v.OID) > 6 {
			vendors[v.OID[6]] = true
		}
		checkTableRows(t, dev, "1.3.6.1.2.1.43.11.1.1", 2, 9)
		checkTableRows(t, dev, "1.3.6.1.2.1.43.12.1.1", 2, 5)

		serial := dev.Serial()
		if other, dup := serials[serial]; serial == "" || dup {
			t.Errorf("%s: serial %q is empty or also on %s", dev.Name(), serial, other)
		}
		serials[serial] = dev.Name()
		if _, ok := get("1.3.6.1.2.1.43.5.1.1.17.1"); !ok {
			vendorSerialOnly++
		}
		if dev.Color() {
			color++
		} else {
			mono++
		}
		if problems, _ := checkMeterSums(get); len(problems) > 0 {
			t.Errorf("%s: %v", dev.Name(), problems)
		}
		if meters := countRules(dev, meterRule); meters == 0 {
			t.Errorf("%s: no page meter moves", dev.Name())
		}
		if !strings.Contains(string(readme), dev.Name()) {
			t.Errorf("fleet/README.md does not describe %s", dev.Name())
		}
	}
	if len(vendors) < 8 || mono < 4 || color < 4 {
		t.Errorf("want a varied fleet: %d vendors, %d mono, %d colour", len(vendors), mono, color)
	}
	if vendorSerialOnly < 2 {
		t.Errorf("%d devices lack prtGeneralSerialNumber, want at least 2", vendorSerialOnly)
	}
}

// TestDemoFleetQuirks checks the special supply values an agent's decoder
// must handle appear somewhere in the fleet.
func TestDemoFleetQuirks(t *testing.T) {
	type quirk struct{ level, capacity int64 }
	var found []quirk
	for _, dev := range DemoFleet() {
		for _, e := range dev.subtree(snmprec.MustParseOID("1.3.6.1.2.1.43.11.1.1.9")) {
			index := e.oid[len(e.oid)-2:]
			capacity, _ := dev.lookup(snmprec.MustParseOID("1.3.6.1.2.1.43.11.1.1.8").Append(index...))
			found = append(found, quirk{e.value.Int, capacity.Int})
		}
	}
	has := func(match func(q quirk) bool) bool {
		for _, q := range found {
			if match(q) {
				return true
			}
		}
		return false
	}
	for name, match := range map[string]func(q quirk) bool{
		"level -3 (some remaining)":      func(q quirk) bool { return q.level == -3 },
		"capacity -2 (unknown)":          func(q quirk) bool { return q.capacity == -2 },
		"level -1 (other)":               func(q quirk) bool { return q.level == -1 },
		"Ricoh level -100":               func(q quirk) bool { return q.level == -100 },
		"level above capacity":           func(q quirk) bool { return q.capacity > 0 && q.level > q.capacity },
		"empty supply (level 0)":         func(q quirk) bool { return q.level == 0 && q.capacity > 0 },
		"capacity in pages, not percent": func(q quirk) bool { return q.capacity > 100 },
	} {
		if !has(match) {
			t.Errorf("no demo device has a supply with %s", name)
		}
	}
}

// checkTableRows checks that every row of a Printer-MIB table has columns
// first..last.
func checkTableRows(t *testing.T, dev Device, table string, first, last uint32) {
	t.Helper()
	prefix := snmprec.MustParseOID(table)
	rows := map[string]bool{}
	for _, e := range dev.subtree(prefix) {
		rows[snmprec.OID(e.oid[len(prefix)+1:]).String()] = true
	}
	for row := range rows {
		for col := first; col <= last; col++ {
			oid := prefix.Append(col).String() + "." + row
			if _, ok := dev.lookup(snmprec.MustParseOID(oid)); !ok {
				t.Errorf("%s: %s row %s lacks column %d", dev.Name(), table, row, col)
			}
		}
	}
}

func countRules(dev Device, kind ruleKind) int {
	n := 0
	for _, e := range dev.entries {
		if e.rule >= 0 && dev.rules[e.rule].kind == kind {
			n++
		}
	}
	return n
}
