package sim

import "github.com/meterline/meterline/printersim/snmprec"

// pageClass says which printed pages move a meter or wear a supply.
type pageClass uint8

const (
	allPages   pageClass = iota // total meters, black toner, drums, waste
	blackPages                  // black-and-white meters
	colorPages                  // colour meters, colour toner
)

// Page meters at fixed OIDs (see printers/OIDS.md for the sources). On a
// mono device every page is black, so its black meter tracks its total.
var fixedMeters = []struct {
	oid   snmprec.OID
	pages pageClass
}{
	// Printer-MIB prtMarkerLifeCount.1.1 and prtMarkerPowerOnCount.1.1.
	{snmprec.MustParseOID("1.3.6.1.2.1.43.10.2.1.4.1.1"), allPages},
	{snmprec.MustParseOID("1.3.6.1.2.1.43.10.2.1.5.1.1"), allPages},
	// HP-LASERJET-COMMON-MIB total-engine / total-mono / total-color page count.
	{snmprec.MustParseOID("1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.5.0"), allPages},
	{snmprec.MustParseOID("1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.6.0"), blackPages},
	{snmprec.MustParseOID("1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.7.0"), colorPages},
	// Xerox xcmHrDevDetail lifetime usage (type 20): 1 total, 33 colour, 34 black.
	{snmprec.MustParseOID("1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.1"), allPages},
	{snmprec.MustParseOID("1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.33"), colorPages},
	{snmprec.MustParseOID("1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.34"), blackPages},
	// Kyocera: total printed; black and colour (printers); print total,
	// print black and print colour (MFPs). New pages are prints.
	{snmprec.MustParseOID("1.3.6.1.4.1.1347.43.10.1.1.12.1.1"), allPages},
	{snmprec.MustParseOID("1.3.6.1.4.1.1347.42.2.2.1.1.3.1.1"), blackPages},
	{snmprec.MustParseOID("1.3.6.1.4.1.1347.42.2.1.1.1.8.1.1"), colorPages},
	{snmprec.MustParseOID("1.3.6.1.4.1.1347.42.3.1.1.1.1.1"), allPages},
	{snmprec.MustParseOID("1.3.6.1.4.1.1347.42.3.1.2.1.1.1.1"), blackPages},
	{snmprec.MustParseOID("1.3.6.1.4.1.1347.42.3.1.2.1.1.1.3"), colorPages},
	// Konica Minolta: total, black print, colour print.
	{snmprec.MustParseOID("1.3.6.1.4.1.18334.1.1.1.5.7.2.1.1.0"), allPages},
	{snmprec.MustParseOID("1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.1.2"), blackPages},
	{snmprec.MustParseOID("1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.2.2"), colorPages},
	// Canon counter table, value column 4 indexed by counter code: 301 print
	// total, 113 black small, 123 full colour + single colour small (new
	// pages are A4/Letter; the "large" codes 112 and 122 stay put).
	{snmprec.MustParseOID("1.3.6.1.4.1.1602.1.11.1.3.1.4.301"), allPages},
	{snmprec.MustParseOID("1.3.6.1.4.1.1602.1.11.1.3.1.4.113"), blackPages},
	{snmprec.MustParseOID("1.3.6.1.4.1.1602.1.11.1.3.1.4.123"), colorPages},
	// Epson 1248.1.2.2.27.1.1: 30 total, 3 black-and-white, 4 colour pages
	// (printmaster EPSON_OID_MAPPING.md, checked against the panel).
	{snmprec.MustParseOID("1.3.6.1.4.1.1248.1.2.2.27.1.1.30.1.1"), allPages},
	{snmprec.MustParseOID("1.3.6.1.4.1.1248.1.2.2.27.1.1.3.1.1"), blackPages},
	{snmprec.MustParseOID("1.3.6.1.4.1.1248.1.2.2.27.1.1.4.1.1"), colorPages},
	// OKI total pages printed (one Zabbix template; marked uncertain).
	{snmprec.MustParseOID("1.3.6.1.4.1.2001.1.1.1.1.100.1.1.1.3.1"), allPages},
}

// Ricoh's counter table has model-specific rows: column 2 holds a counter
// type code, column 9 the value.
var (
	ricohCounterType  = snmprec.MustParseOID("1.3.6.1.4.1.367.3.2.1.2.19.5.1.2")
	ricohCounterValue = snmprec.MustParseOID("1.3.6.1.4.1.367.3.2.1.2.19.5.1.9")
	ricohCounterCodes = map[int64]pageClass{
		10:  allPages,   // machine total
		401: blackPages, // print black
		402: colorPages, // print colour
	}
)

// Sharp's counter table has model-specific indexes: column 4 holds a name,
// column 3 the value.
var (
	sharpCounterName  = snmprec.MustParseOID("1.3.6.1.4.1.2385.1.1.19.2.1.4")
	sharpCounterValue = snmprec.MustParseOID("1.3.6.1.4.1.2385.1.1.19.2.1.3")
	sharpCounterNames = map[string]pageClass{
		"Prints":                    allPages,
		"Black & White Print Count": blackPages,
		"Full Color Print Count":    colorPages,
		"Black & White Total Count": blackPages,
		"Full Color Total Count":    colorPages,
	}
)

// Uptime counters, which advance with elapsed time while the fleet is live.
var uptimeOIDs = []snmprec.OID{
	snmprec.MustParseOID("1.3.6.1.2.1.1.3.0"),    // sysUpTime
	snmprec.MustParseOID("1.3.6.1.2.1.25.1.1.0"), // hrSystemUptime
}

// Printer-MIB columns read to plan supplies and colour.
var (
	suppliesTable       = snmprec.MustParseOID("1.3.6.1.2.1.43.11.1.1")
	colorantValueColumn = snmprec.MustParseOID("1.3.6.1.2.1.43.12.1.1.4")
	processColorants    = snmprec.MustParseOID("1.3.6.1.2.1.43.10.2.1.6.1.1")
)

// prtMarkerSuppliesTable columns.
const (
	supplyColorant = 3
	supplyClass    = 4
	supplyType     = 5
	supplyDescr    = 6
	supplyUnit     = 7
	supplyMax      = 8
	supplyLevel    = 9
)

// Values of prtMarkerSuppliesClass, prtMarkerSuppliesSupplyUnit and
// prtMarkerSuppliesType the dynamics care about.
const (
	classConsumed   = 3
	classReceptacle = 4

	unitImpressions = 7
	unitSheets      = 8
)

// markingTypes are supplies that put marks on pages (IANA-PRINTER-MIB
// PrtMarkerSuppliesTypeTC): they last one nominal cartridge yield.
var markingTypes = map[int64]bool{
	3: true, 5: true, 6: true, 7: true, 12: true, 13: true, 21: true, 35: true, 36: true,
}
