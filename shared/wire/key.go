package wire

import (
	"strings"

	"github.com/meterline/meterline/shared/domain"
)

// Key is the identity under which the collector stores a device: its serial
// number when it reports one, else its MAC address, else the address where
// its agent reaches it. Many printers report no Printer-MIB serial; they are
// still devices, identified by what they have.
func (r DeviceRead) Key(agentID string) string {
	if s := NormalizeSerial(r.Serial); s != "" {
		return "sn:" + s
	}
	if m := strings.ToLower(strings.TrimSpace(r.MAC)); m != "" {
		return "mac:" + m
	}
	return "addr:" + agentID + "/" + r.Address
}

// NormalizeSerial trims blanks and NULs (some printers pad their strings)
// and upper-cases the serial, so one device reached twice is one key.
func NormalizeSerial(s string) string {
	return strings.ToUpper(strings.Trim(s, " \t\r\n\x00"))
}

// Counter returns the value of the counter of the given kind, if present.
func (r DeviceRead) Counter(kind domain.CounterKind) (int64, bool) {
	for _, c := range r.Counters {
		if c.Kind == kind {
			return c.Value, true
		}
	}
	return 0, false
}
