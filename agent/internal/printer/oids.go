package printer

import "github.com/meterline/meterline/shared/domain"

// OIDs read from every printer: the standard MIBs (RFC 1213 MIB-II,
// RFC 2790 HOST-RESOURCES-MIB, RFC 3805 Printer-MIB, PWG 5106.3). Vendor
// OIDs live in the profiles (package profile). Table columns are given
// without their index.
const (
	oidSysDescr    = "1.3.6.1.2.1.1.1.0"
	oidSysObjectID = "1.3.6.1.2.1.1.2.0"

	// ifPhysAddress, indexed by ifIndex.
	oidIfPhysAddress = "1.3.6.1.2.1.2.2.1.6"

	// hrDeviceEntry, indexed by hrDeviceIndex.
	oidHrDeviceEntry  = "1.3.6.1.2.1.25.3.2.1"
	oidHrDeviceType   = "1.3.6.1.2.1.25.3.2.1.2"
	oidHrDeviceDescr  = "1.3.6.1.2.1.25.3.2.1.3"
	oidHrDeviceStatus = "1.3.6.1.2.1.25.3.2.1.5"
	// hrDevicePrinter is the hrDeviceType value of the printer row.
	oidHrDevicePrinter = "1.3.6.1.2.1.25.3.1.5"

	// hrPrinterEntry, indexed by hrDeviceIndex.
	oidHrPrinterEntry              = "1.3.6.1.2.1.25.3.5.1"
	oidHrPrinterStatus             = "1.3.6.1.2.1.25.3.5.1.1"
	oidHrPrinterDetectedErrorState = "1.3.6.1.2.1.25.3.5.1.2"

	// The Printer-MIB root: any value below it means the device has it.
	oidPrinterMIB = "1.3.6.1.2.1.43"

	// prtGeneralSerialNumber, indexed by hrDeviceIndex.
	oidPrtGeneralSerialNumber = "1.3.6.1.2.1.43.5.1.1.17"

	// prtMarkerEntry columns, indexed by hrDeviceIndex.prtMarkerIndex.
	oidPrtMarkerEntry            = "1.3.6.1.2.1.43.10.2.1"
	oidPrtMarkerCounterUnit      = "1.3.6.1.2.1.43.10.2.1.3"
	oidPrtMarkerLifeCount        = "1.3.6.1.2.1.43.10.2.1.4"
	oidPrtMarkerProcessColorants = "1.3.6.1.2.1.43.10.2.1.6"
	oidPrtMarkerSpotColorants    = "1.3.6.1.2.1.43.10.2.1.7"

	// prtMarkerSuppliesEntry, indexed by hrDeviceIndex.prtMarkerSuppliesIndex.
	oidPrtMarkerSuppliesEntry         = "1.3.6.1.2.1.43.11.1.1"
	oidPrtMarkerSuppliesColorantIndex = "1.3.6.1.2.1.43.11.1.1.3"
	oidPrtMarkerSuppliesClass         = "1.3.6.1.2.1.43.11.1.1.4"
	oidPrtMarkerSuppliesType          = "1.3.6.1.2.1.43.11.1.1.5"
	oidPrtMarkerSuppliesDescription   = "1.3.6.1.2.1.43.11.1.1.6"
	oidPrtMarkerSuppliesSupplyUnit    = "1.3.6.1.2.1.43.11.1.1.7"
	oidPrtMarkerSuppliesMaxCapacity   = "1.3.6.1.2.1.43.11.1.1.8"
	oidPrtMarkerSuppliesLevel         = "1.3.6.1.2.1.43.11.1.1.9"

	// prtMarkerColorantValue, indexed by hrDeviceIndex.prtMarkerColorantIndex.
	oidPrtMarkerColorantValue = "1.3.6.1.2.1.43.12.1.1.4"
)

// scalars are fetched with one GET.
var scalars = []string{oidSysDescr, oidSysObjectID}

// subtrees are walked, each in as few round trips as GetBulk allows. Whole
// entries are walked where most columns are used (fewer requests than one
// walk per column); single columns elsewhere.
var subtrees = []struct{ name, oid string }{
	// Three columns of hrDeviceEntry rather than the whole entry: the ones
	// skipped include hrDeviceID, which some devices fill with an OID no
	// decoder takes (Zebra's one-arc "0"), and a response that cannot be
	// decoded costs the whole walk.
	{"hrDeviceType", oidHrDeviceType},
	{"hrDeviceDescr", oidHrDeviceDescr},
	{"hrDeviceStatus", oidHrDeviceStatus},
	{"hrPrinterEntry", oidHrPrinterEntry},
	{"ifPhysAddress", oidIfPhysAddress},
	{"prtGeneralSerialNumber", oidPrtGeneralSerialNumber},
	// The whole marker entry (counter unit, life count, process and spot
	// colorants among its 14 columns): one walk rather than four.
	{"prtMarkerEntry", oidPrtMarkerEntry},
	{"prtMarkerSuppliesEntry", oidPrtMarkerSuppliesEntry},
	{"prtMarkerColorantValue", oidPrtMarkerColorantValue},
}

// PWG Imaging System Counter MIB (PWG 5106.3-2008), root 1.3.6.1.4.1.2699.1.3.
// Few devices have it (no public recording does), so it is probed: its key
// table is walked, and its impression table only when the key table has rows.
const (
	// icKeyEntry, indexed by icKeyIndex; column 2 is icKeyServiceType.
	oidICKeyEntry       = "1.3.6.1.4.1.2699.1.3.1.2.1.1"
	oidICKeyServiceType = "1.3.6.1.4.1.2699.1.3.1.2.1.1.2"
	// icImpressionEntry, indexed by key.workType.persistence.
	oidICImpressionEntry = "1.3.6.1.4.1.2699.1.3.1.8.1.1"
)

// PWG values used to pick the lifetime system totals.
const (
	pwgServiceSystemTotals = 3 // IcServiceTypeTC systemTotals
	pwgWorkTotals          = 3 // IcWorkTypeTC workTotals
	pwgLifetime            = 3 // IcPersistenceTC lifetime
)

// icImpressionTable columns that are page meters.
var pwgImpressionColumns = []struct {
	column string
	kind   domain.CounterKind
	name   string
}{
	{"4", domain.CounterTotal, "icImpressionTotalImps"},
	{"5", domain.CounterBlack, "icImpressionMonochromeImps"},
	{"7", domain.CounterColour, "icImpressionFullColorImps"},
}
