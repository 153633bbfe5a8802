package printer

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/meterline/meterline/agent/internal/profile"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// marking says whether a device prints in colour, as far as it says so.
type marking int

const (
	markingUnknown marking = iota
	markingMono
	markingColour
)

// markingOf decides mono or colour from what the device reports about its
// markers, never from what it lacks. Evidence of colour anywhere wins:
// prtMarkerProcessColorants above 1 or any prtMarkerSpotColorants (RFC 3805:
// "a process color of 1 implies monochrome"; spot colours are highlight
// colours), a colorant or supply of another colour than black. Mono needs
// positive evidence: every marker of the printer with one process colorant
// and no spot colorant, or, on a device without those columns, a colorant
// table (the colorants the printer supports, not the ones installed) that
// lists black alone. Supplies alone never make a device mono: a colour
// device may list only its black cartridge while the others are out.
func markingOf(s Snapshot, index int) marking {
	colour := false
	monoMarkers := 0
	for _, c := range rowsOf(s.column(oidPrtMarkerProcessColorants), index) {
		process, ok := c.pdu.Int()
		if !ok {
			continue
		}
		spot, _ := s.int(oidPrtMarkerSpotColorants + "." + c.index)
		switch {
		case process > 1 || spot > 0:
			colour = true
		case process == 1:
			monoMarkers++
		}
	}
	blackColorants := 0
	for _, c := range rowsOf(s.column(oidPrtMarkerColorantValue), index) {
		b, ok := c.pdu.Bytes()
		if !ok {
			continue
		}
		switch name := cleanColour(b); {
		case isBlack(name):
			blackColorants++
		case isColourName(name):
			colour = true
		}
	}
	for _, c := range rowsOf(s.column(oidPrtMarkerSuppliesColorantIndex), index) {
		if ci, ok := c.pdu.Int(); ok && ci > 0 {
			device, _, _ := splitIndex(c.index)
			if b, ok := s.bytes(oidPrtMarkerColorantValue + "." + strconv.Itoa(device) + "." + strconv.FormatInt(ci, 10)); ok && isColourName(cleanColour(b)) {
				colour = true
			}
		}
	}
	switch {
	case colour:
		return markingColour
	case monoMarkers > 0 || blackColorants > 0:
		return markingMono
	}
	return markingUnknown
}

// isBlack reports whether a colorant name is black ("black", "matte black").
func isBlack(name string) bool {
	return strings.Contains(name, "black") || name == "k"
}

// isColourName reports whether a colorant name names a colour other than
// black; "unknown", "other" and an empty name name none.
func isColourName(name string) bool {
	switch name {
	case "", "unknown", "other", "none", "n/a":
		return false
	}
	return !isBlack(name)
}

// billingMeters completes the read's meters for billing. A mono device's
// billing meter is its black meter: where no profile gives one, it is the
// device's total, and its source says so. A device that reports a colour
// meter is no mono device, whatever its marker table says. It returns the
// billing kinds the device does not report (black; colour unless the
// device is mono), so the read can say the model has no such meter rather
// than leave it blank.
func billingMeters(counters []wire.Counter, m marking) ([]wire.Counter, []domain.CounterKind) {
	has := func(kind domain.CounterKind) (wire.Counter, bool) {
		for _, c := range counters {
			if c.Kind == kind {
				return c, true
			}
		}
		return wire.Counter{}, false
	}
	if _, ok := has(domain.CounterColour); ok {
		m = markingColour
	}
	if m == markingMono {
		if _, ok := has(domain.CounterBlack); !ok {
			if total, ok := has(domain.CounterTotal); ok {
				black := total
				black.Kind = domain.CounterBlack
				black.Source = MonoTotalSource + total.Source
				counters = inKindOrder(append(counters, black))
			}
		}
	}
	var unreported []domain.CounterKind
	if _, ok := has(domain.CounterBlack); !ok {
		unreported = append(unreported, domain.CounterBlack)
	}
	if _, ok := has(domain.CounterColour); !ok && m != markingMono {
		unreported = append(unreported, domain.CounterColour)
	}
	return counters, unreported
}

// MonoTotalSource prefixes the source of a mono device's black meter, which
// is its total: every page it prints is black.
const MonoTotalSource = "mono device total: "

// inKindOrder sorts counters into the order reads report kinds in.
func inKindOrder(cs []wire.Counter) []wire.Counter {
	out := make([]wire.Counter, 0, len(cs))
	for _, kind := range profile.Kinds {
		for _, c := range cs {
			if c.Kind == kind {
				out = append(out, c)
			}
		}
	}
	return out
}

// printerWords are words a sysDescr uses for a printer, a multifunction
// device or a print server, whatever the vendor. A scan server names none.
var printerWords = regexp.MustCompile(`(?i)\b(printer|printing|print ?server|mfp|multi-?function|laser|laserjet|inkjet|copier|jetdirect)\b`)

// IdentifiesAsPrinter reports whether a device that shows no Printer-MIB
// still says it is a printer, from its system group, with the reader's
// profiles (see identifiesAsPrinter). Discovery asks it before reading.
func (rd Reader) IdentifiesAsPrinter(sysObjectID, sysDescr string) bool {
	return identifiesAsPrinter(rd.profiles(), enterpriseOf(sysObjectID), cleanText([]byte(sysDescr)))
}

// identifiesAsPrinter reports whether a device without the Printer-MIB
// still says it is a printer: its sysObjectID is in the enterprise of a
// printer vendor (one a profile lists) and its sysDescr names a printer,
// in words or by one of the vendor's printer model families.
func identifiesAsPrinter(set profile.Set, enterprise int, sysDescr string) bool {
	if enterprise == 0 || strings.TrimSpace(sysDescr) == "" {
		return false
	}
	vendor := false
	for _, p := range set.Profiles() {
		if !p.ListsEnterprise(enterprise) {
			continue
		}
		vendor = true
		if p.NamesPrinter(sysDescr) {
			return true
		}
	}
	return vendor && printerWords.MatchString(sysDescr)
}
