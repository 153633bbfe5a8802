// Package domain is Meterline's vocabulary: the names of counters, supplies,
// level states and device states that the agent reports, the collector
// stores and the portal shows. Each is a string type so that the values read
// well in JSON, in SQL and in logs.
package domain

// CounterKind says what a page counter counts. Billing uses Black and Colour;
// Total is the device's lifetime count. A device reports only the kinds it
// really has: a missing kind is absent, never derived.
type CounterKind string

// Counter kinds. The per-function kinds exist for devices that split their
// meters by print / copy / fax; the per-size kinds for large-format splits.
const (
	CounterTotal       CounterKind = "total"
	CounterBlack       CounterKind = "black"
	CounterColour      CounterKind = "colour"
	CounterPrintBlack  CounterKind = "print_black"
	CounterPrintColour CounterKind = "print_colour"
	CounterCopyBlack   CounterKind = "copy_black"
	CounterCopyColour  CounterKind = "copy_colour"
	CounterFax         CounterKind = "fax"
	CounterScan        CounterKind = "scan"
	CounterDuplex      CounterKind = "duplex"
	CounterBlackLarge  CounterKind = "black_large"
	CounterColourLarge CounterKind = "colour_large"
)

// CounterUnit says whether a counter counts impressions (sides printed) or
// sheets; on duplex jobs the two differ by up to a factor of two.
type CounterUnit string

// Counter units (Printer-MIB PrtMarkerCounterUnitTC 7 and 8).
const (
	UnitImpressions CounterUnit = "impressions"
	UnitSheets      CounterUnit = "sheets"
)

// SupplyKind is what a supply is, from the Printer-MIB supply type (RFC 3805,
// IANA PrtMarkerSuppliesTypeTC) or, failing that, its description.
type SupplyKind string

// Supply kinds.
const (
	SupplyToner     SupplyKind = "toner"
	SupplyInk       SupplyKind = "ink"
	SupplyDrum      SupplyKind = "drum"
	SupplyDeveloper SupplyKind = "developer"
	SupplyWaste     SupplyKind = "waste"
	SupplyFuser     SupplyKind = "fuser"
	SupplyTransfer  SupplyKind = "transfer"
	SupplyCleaner   SupplyKind = "cleaner"
	SupplyStaples   SupplyKind = "staples"
	SupplyRibbon    SupplyKind = "ribbon"
	SupplyOther     SupplyKind = "other"
)

// LevelState says how far a supply level can be trusted. Printers report
// special values instead of a level (RFC 3805: -1 other, -2 unknown, -3 "some
// remaining"; Ricoh -100 empty); Meterline keeps them as states and never
// turns them into a made-up percentage.
type LevelState string

// Level states.
const (
	// LevelMeasured: level and capacity are known, the percent is computed.
	LevelMeasured LevelState = "measured"
	// LevelSomeRemaining: the device knows some is left but not how much (-3).
	LevelSomeRemaining LevelState = "some_remaining"
	// LevelUnknown: the device does not know (-2), or gave no capacity.
	LevelUnknown LevelState = "unknown"
	// LevelOther: "other" / no restriction (-1).
	LevelOther LevelState = "other"
	// LevelEmpty: the device says empty with a special value (Ricoh -100).
	LevelEmpty LevelState = "empty"
	// LevelOverCapacity: the level is above the declared capacity.
	LevelOverCapacity LevelState = "over_capacity"
)

// DeviceState is the HOST-RESOURCES-MIB hrDeviceStatus of the printer.
type DeviceState string

// Device states (hrDeviceStatus 1..5).
const (
	DeviceUnknown DeviceState = "unknown"
	DeviceRunning DeviceState = "running"
	DeviceWarning DeviceState = "warning"
	DeviceTesting DeviceState = "testing"
	DeviceDown    DeviceState = "down"
)

// PrinterState is the HOST-RESOURCES-MIB hrPrinterStatus.
type PrinterState string

// Printer states (hrPrinterStatus 1..5).
const (
	PrinterOther    PrinterState = "other"
	PrinterUnknown  PrinterState = "unknown"
	PrinterIdle     PrinterState = "idle"
	PrinterPrinting PrinterState = "printing"
	PrinterWarmup   PrinterState = "warmup"
)

// Condition is one flag of hrPrinterDetectedErrorState.
type Condition string

// Conditions, in the bit order of hrPrinterDetectedErrorState (RFC 2790 and
// RFC 3805 extension): bit 0 is the most significant bit of the first octet.
const (
	CondLowPaper          Condition = "low_paper"
	CondNoPaper           Condition = "no_paper"
	CondLowToner          Condition = "low_toner"
	CondNoToner           Condition = "no_toner"
	CondDoorOpen          Condition = "door_open"
	CondJammed            Condition = "jammed"
	CondOffline           Condition = "offline"
	CondServiceRequested  Condition = "service_requested"
	CondInputTrayMissing  Condition = "input_tray_missing"
	CondOutputTrayMissing Condition = "output_tray_missing"
	CondSupplyMissing     Condition = "marker_supply_missing"
	CondOutputNearFull    Condition = "output_near_full"
	CondOutputFull        Condition = "output_full"
	CondInputTrayEmpty    Condition = "input_tray_empty"
	CondOverduePM         Condition = "overdue_preventive_maintenance"
)

// ErrorStateBits lists the conditions by bit position.
var ErrorStateBits = [...]Condition{
	CondLowPaper, CondNoPaper, CondLowToner, CondNoToner, CondDoorOpen,
	CondJammed, CondOffline, CondServiceRequested, CondInputTrayMissing,
	CondOutputTrayMissing, CondSupplyMissing, CondOutputNearFull,
	CondOutputFull, CondInputTrayEmpty, CondOverduePM,
}

// EventKind names an alert the agent raises.
type EventKind string

// Event kinds.
const (
	EventTonerLow          EventKind = "toner_low"
	EventTonerEmpty        EventKind = "toner_empty"
	EventSupplyReplaced    EventKind = "supply_replaced"
	EventJam               EventKind = "jam"
	EventCounterBackwards  EventKind = "counter_backwards"
	EventDeviceUnreachable EventKind = "device_unreachable"
	// EventBatchSequenceReused is raised by the collector, not an agent:
	// a read batch came with an (agent, sequence) already stored under
	// another batch id (the agent reinstalled, or its clock started over).
	// The batch is stored; the back office sees the agent started over.
	EventBatchSequenceReused EventKind = "batch_sequence_reused"
)

// AgentState is what an agent's retained status says.
type AgentState string

// Agent states. Offline is also the agent's MQTT Last Will.
const (
	AgentOnline  AgentState = "online"
	AgentOffline AgentState = "offline"
)

// CommandName is an order the collector sends to an agent.
type CommandName string

// Commands.
const (
	CommandPollNow     CommandName = "poll_now"
	CommandDiscoverNow CommandName = "discover_now"
)
