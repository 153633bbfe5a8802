package alerts

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// kindNames name supplies in messages.
var kindNames = map[domain.SupplyKind]string{
	domain.SupplyToner:     "toner",
	domain.SupplyInk:       "ink",
	domain.SupplyDrum:      "drum",
	domain.SupplyDeveloper: "developer",
	domain.SupplyWaste:     "waste container",
	domain.SupplyFuser:     "fuser",
	domain.SupplyTransfer:  "transfer unit",
	domain.SupplyCleaner:   "cleaner",
	domain.SupplyStaples:   "staples",
	domain.SupplyRibbon:    "ribbon",
}

// supplyLabel names a supply for people: "Cyan toner", "Fuser", and for a
// supply of no known kind its description ("Supply 7" without one).
func supplyLabel(s wire.Supply) string {
	name, ok := kindNames[s.Kind]
	if !ok {
		name = strings.TrimSpace(s.Description)
		if name == "" {
			name = "supply " + strconv.Itoa(s.Index)
		}
		return capitalise(name)
	}
	if s.Colour != "" {
		name = s.Colour + " " + name
	}
	return capitalise(name)
}

// meterName names a meter in messages.
func meterName(k domain.CounterKind) string {
	return capitalise(string(k))
}

func capitalise(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}
