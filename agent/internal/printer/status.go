package printer

import (
	"github.com/meterline/meterline/shared/domain"
)

// deviceStates maps hrDeviceStatus (RFC 2790) values.
var deviceStates = map[int64]domain.DeviceState{
	1: domain.DeviceUnknown,
	2: domain.DeviceRunning,
	3: domain.DeviceWarning,
	4: domain.DeviceTesting,
	5: domain.DeviceDown,
}

// printerStates maps hrPrinterStatus (RFC 2790) values.
var printerStates = map[int64]domain.PrinterState{
	1: domain.PrinterOther,
	2: domain.PrinterUnknown,
	3: domain.PrinterIdle,
	4: domain.PrinterPrinting,
	5: domain.PrinterWarmup,
}

// conditions decodes hrPrinterDetectedErrorState. Bit 0 is the most
// significant bit of the first octet (RFC 2790: "bit 0 … is the high-order
// bit of the first octet"); printers send one octet, two, or none at all.
// LibreNMS ignores the second octet as unreliable; we decode it as the
// RFC says and report what the device claims.
func conditions(state []byte) []domain.Condition {
	var out []domain.Condition
	for bit, cond := range domain.ErrorStateBits {
		octet := bit / 8
		if octet >= len(state) {
			break
		}
		if state[octet]&(0x80>>(bit%8)) != 0 {
			out = append(out, cond)
		}
	}
	return out
}
