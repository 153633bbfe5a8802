package wire

import (
	"strconv"
	"strings"

	"github.com/meterline/meterline/shared/domain"
)

// Key is the identity under which the collector stores a device: its serial
// number when it reports one, else its MAC address, else the address where
// its agent reaches it. Many printers report no Printer-MIB serial; they are
// still devices, identified by what they have. A placeholder serial (see
// PlaceholderSerial) is no serial: such a device is keyed by its MAC or
// address, which Owner scopes to the agent.
func (r DeviceRead) Key(agentID string) string {
	if s := NormalizeSerial(r.Serial); !PlaceholderSerial(s) {
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

// placeholderSerials are serials printers report when they have none
// (normalised, see NormalizeSerial).
var placeholderSerials = map[string]bool{
	"0": true, "-": true, "?": true, "*": true, "X": true, ".": true,
	"N/A": true, "NA": true, "NONE": true, "NULL": true, "NIL": true, "UNKNOWN": true,
	"DEFAULT": true, "SERIAL": true, "SERIALNUMBER": true, "SERIAL NUMBER": true,
	"123456789": true, "0123456789": true, "1234567890": true,
}

// PlaceholderSerial reports whether a serial identifies nothing: empty,
// a known placeholder ("0", "-", "N/A", "unknown", "123456789"…), or one
// character repeated ("000000", "XXXXXXXX", "--"). Whatever its case or padding.
// Such a serial never merges the devices of two agents.
func PlaceholderSerial(s string) bool {
	s = NormalizeSerial(s)
	if s == "" || placeholderSerials[s] {
		return true
	}
	return len(s) > 1 && strings.Count(s, s[:1]) == len(s)
}

// Owner is the scope in which a device key identifies a device (the
// devices table is unique on (owner, device_key)): the agent's account
// ("acct:<id>") for a serial key of an agent registered to an account, so
// that the account's agents share the device and no other account's can
// reach it; else the agent itself ("agent:<id>"): a device keyed by MAC or
// address, or read by an agent registered to no account, is that agent's
// alone. accountID is the agent's account, or 0 when it has none.
func Owner(key, agentID string, accountID int64) string {
	if accountID != 0 && strings.HasPrefix(key, "sn:") {
		return AccountOwner(accountID)
	}
	return "agent:" + agentID
}

// AccountOwner is the owner of an account's serial-keyed devices.
func AccountOwner(accountID int64) string {
	return "acct:" + strconv.FormatInt(accountID, 10)
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
