package storetest

import (
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// Sample is a small fleet that shows every case the device list handles:
// colour and mono devices, measured levels, -3 "some remaining", unknown,
// empty and over-capacity levels, a waste container, status conditions, a
// stale read and a device with neither serial number nor read. Its reads
// are dated relative to now.
func Sample(now time.Time) []Device {
	now = now.UTC().Truncate(time.Second)
	return []Device{
		{
			Serial: "3TB241507", Vendor: "xerox", Model: "Xerox VersaLink C405", Address: "127.0.1.20",
			Reads: []Read{
				{
					At:       now.Add(-24 * time.Hour),
					Counters: counters(127020, 89300, 37720),
					Supplies: []wire.Supply{Toner(1, "black", 85)},
				},
				{
					At:       now.Add(-3 * time.Minute),
					Counters: counters(128450, 90210, 38240),
					Supplies: []wire.Supply{
						Toner(1, "black", 82), Toner(2, "cyan", 45), Toner(3, "magenta", 7), Toner(4, "yellow", 63),
						Measured(5, domain.SupplyDrum, "Drum Cartridge", 62),
						Waste(6, 30),
						Measured(7, domain.SupplyFuser, "Fuser", 88),
					},
					Status: &wire.Status{Device: domain.DeviceWarning, Printer: domain.PrinterIdle,
						Conditions: []domain.Condition{domain.CondLowToner}},
				},
			},
		},
		{
			Serial: "PHBBK12345", Vendor: "hp", Model: "HP LaserJet Pro M404dn", Address: "127.0.1.31",
			Reads: []Read{{
				At: now.Add(-12 * time.Minute),
				Counters: []wire.Counter{
					{Kind: domain.CounterTotal, Value: 48210, Unit: domain.UnitImpressions},
					{Kind: domain.CounterBlack, Value: 48210, Unit: domain.UnitImpressions},
				},
				Supplies: []wire.Supply{Special(1, domain.SupplyToner, "black", -3, domain.LevelSomeRemaining)},
				Status:   &wire.Status{Device: domain.DeviceRunning, Printer: domain.PrinterIdle},
			}},
		},
		{
			Serial: "E78123H9N456", Vendor: "brother", Model: "HL-L8360CDW", Address: "127.0.1.44",
			Reads: []Read{{
				At:       now.Add(-2*time.Hour - 10*time.Minute),
				Counters: counters(20510, 15200, 5310),
				Supplies: []wire.Supply{
					Special(1, domain.SupplyToner, "black", -2, domain.LevelUnknown),
					Toner(2, "cyan", 55), Toner(3, "magenta", 60),
					Special(4, domain.SupplyToner, "yellow", 120, domain.LevelOverCapacity),
					Measured(5, domain.SupplyDrum, "Drum Unit", 40),
				},
				Status: &wire.Status{Device: domain.DeviceDown, Printer: domain.PrinterOther,
					Conditions: []domain.Condition{domain.CondJammed, domain.CondDoorOpen}},
			}},
		},
		{
			Serial: "3100R512345", Vendor: "ricoh", Model: "IM C3000", Address: "127.0.4.12",
			Reads: []Read{{
				At:       now.Add(-45 * time.Minute),
				Counters: counters(310400, 201300, 109100),
				Supplies: []wire.Supply{
					Toner(1, "black", 35), Toner(2, "cyan", 12), Toner(3, "magenta", 20),
					Special(4, domain.SupplyToner, "yellow", -100, domain.LevelEmpty),
					{Index: 5, Description: "Waste Toner Bottle", Kind: domain.SupplyWaste, Receptacle: true,
						Level: ptr(int64(-3)), Capacity: ptr(int64(-2)), State: domain.LevelSomeRemaining},
				},
				Status: &wire.Status{Device: domain.DeviceWarning, Printer: domain.PrinterIdle,
					Conditions: []domain.Condition{domain.CondNoToner}},
			}},
		},
		{
			Serial: "VCF9204711", Vendor: "kyocera", Model: "ECOSYS P3145dn", Address: "127.0.4.20",
			Reads: []Read{{
				At: now.Add(-50 * time.Hour),
				Counters: []wire.Counter{
					{Kind: domain.CounterTotal, Value: 9876543},
					{Kind: domain.CounterBlack, Value: 9876543},
				},
				Supplies: []wire.Supply{Toner(1, "black", 5)},
				Status: &wire.Status{Device: domain.DeviceWarning, Printer: domain.PrinterIdle,
					Conditions: []domain.Condition{domain.CondLowToner}},
			}},
		},
		{
			MAC: "00:1b:a9:4c:21:7e", Address: "127.0.4.99", Seen: now.Add(-5 * time.Minute),
		},
	}
}

func counters(total, black, colour int64) []wire.Counter {
	return []wire.Counter{
		{Kind: domain.CounterTotal, Value: total, Unit: domain.UnitImpressions},
		{Kind: domain.CounterBlack, Value: black, Unit: domain.UnitImpressions},
		{Kind: domain.CounterColour, Value: colour, Unit: domain.UnitImpressions},
	}
}

// Toner is a measured toner cartridge of a colour, percent full.
func Toner(index int, colour string, percent int) wire.Supply {
	s := Measured(index, domain.SupplyToner, colour+" toner cartridge", percent)
	s.Colour = colour
	return s
}

// Measured is a consumable whose level the device reports against a
// capacity of 100.
func Measured(index int, kind domain.SupplyKind, description string, percent int) wire.Supply {
	return wire.Supply{
		Index: index, Description: description, Kind: kind,
		Level: ptr(int64(percent)), Capacity: ptr(int64(100)), Unit: "percent",
		State: domain.LevelMeasured, Percent: ptr(percent),
	}
}

// Waste is a waste toner container full percent.
func Waste(index int, fullPercent int) wire.Supply {
	return wire.Supply{
		Index: index, Description: "Waste Toner Container", Kind: domain.SupplyWaste, Receptacle: true,
		Level: ptr(int64(100 - fullPercent)), Capacity: ptr(int64(100)), Unit: "percent",
		State: domain.LevelMeasured, FullPercent: ptr(fullPercent),
	}
}

// Special is a supply whose level is a special value or out of range:
// the state says how to read it and no percent is given.
func Special(index int, kind domain.SupplyKind, colour string, level int64, state domain.LevelState) wire.Supply {
	return wire.Supply{
		Index: index, Description: colour + " " + string(kind), Kind: kind, Colour: colour,
		Level: ptr(level), Capacity: ptr(int64(100)), State: state,
	}
}

func ptr[T any](v T) *T { return &v }
