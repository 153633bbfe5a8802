package printer

import (
	"math/bits"
	"strings"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// Printer-MIB prtMarkerSuppliesClass values.
const (
	classConsumed   = 3
	classReceptacle = 4 // filled up (waste toner): the level is the space left
)

// kindByType maps IANA PrtMarkerSuppliesTypeTC to supply kinds. Types not
// listed (other, unknown, fuserOil, coronaWire, …) are named from the
// description instead.
var kindByType = map[int64]domain.SupplyKind{
	3:  domain.SupplyToner,     // toner
	21: domain.SupplyToner,     // tonerCartridge
	35: domain.SupplyToner,     // matteToner
	5:  domain.SupplyInk,       // ink
	6:  domain.SupplyInk,       // inkCartridge
	36: domain.SupplyInk,       // matteInk
	7:  domain.SupplyRibbon,    // inkRibbon
	13: domain.SupplyRibbon,    // ribbonWax
	9:  domain.SupplyDrum,      // opc
	10: domain.SupplyDeveloper, // developer
	4:  domain.SupplyWaste,     // wasteToner
	8:  domain.SupplyWaste,     // wasteInk
	14: domain.SupplyWaste,     // wasteWax
	24: domain.SupplyWaste,     // wasteWater
	15: domain.SupplyFuser,     // fuser
	20: domain.SupplyTransfer,  // transferUnit
	18: domain.SupplyCleaner,   // cleanerUnit
	32: domain.SupplyStaples,   // staples
}

// kindWords name a kind from description words, checked in order: the
// more specific first, so "Waste Toner Box" is waste and "Transfer Belt
// Cleaner" a cleaner.
var kindWords = []struct {
	words []string
	kind  domain.SupplyKind
}{
	{[]string{"waste"}, domain.SupplyWaste},
	{[]string{"staple", "staples"}, domain.SupplyStaples},
	{[]string{"ribbon"}, domain.SupplyRibbon},
	{[]string{"cleaner", "cleaning"}, domain.SupplyCleaner},
	{[]string{"developer"}, domain.SupplyDeveloper},
	{[]string{"drum", "opc", "photoconductor", "photoconductive", "imaging"}, domain.SupplyDrum},
	{[]string{"fuser", "fusing"}, domain.SupplyFuser},
	{[]string{"transfer"}, domain.SupplyTransfer},
	{[]string{"toner"}, domain.SupplyToner},
	{[]string{"ink"}, domain.SupplyInk},
	// A bare "cartridge" on a laser is the toner cartridge (HP "Black
	// Cartridge HP CF410A", Canon "Canon Cartridge 719"); inkjets say "ink".
	{[]string{"cartridge"}, domain.SupplyToner},
}

// supplyKind names a supply from its Printer-MIB type, else from its
// description, else other.
func supplyKind(typ int64, hasType bool, descr string) domain.SupplyKind {
	if hasType {
		if k, ok := kindByType[typ]; ok {
			return k
		}
	}
	words := wordsOf(descr)
	for _, kw := range kindWords {
		for _, w := range kw.words {
			if containsRun(words, []string{w}) {
				return kw.kind
			}
		}
	}
	return domain.SupplyOther
}

// colourWords are the colour names looked for in descriptions when the
// colorant table gives none; two-word names first.
var colourWords = [][]string{
	{"photo", "black"}, {"matte", "black"}, {"light", "black"},
	{"light", "cyan"}, {"light", "magenta"}, {"light", "gray"}, {"light", "grey"},
	{"black"}, {"cyan"}, {"magenta"}, {"yellow"},
	{"red"}, {"green"}, {"blue"}, {"orange"}, {"violet"}, {"gray"}, {"grey"}, {"white"},
}

// colourFromDescription finds a colour name in a supply description.
func colourFromDescription(descr string) string {
	words := wordsOf(descr)
	for _, cw := range colourWords {
		if containsRun(words, cw) {
			return strings.Join(cw, " ")
		}
	}
	return ""
}

// cleanColour normalises a prtMarkerColorantValue ("Black", "black\x00").
// A value longer than a colour name can be is none: the description may
// still name the colour.
func cleanColour(b []byte) string {
	c := strings.ToLower(cleanText(b))
	if len(c) > wire.MaxTokenLen {
		return ""
	}
	return c
}

// partNumber finds the part number vendors put in supply descriptions:
// after a "PN" label (Xerox "Black Toner, PN 006R01509;SN…"), a Xerox
// number anywhere ("…; 006R01697"), or an HP number after "HP" ("Black
// Cartridge HP CF410A"). It returns "" when it finds none: a guess would
// order the wrong cartridge.
func partNumber(descr string) string {
	tokens := strings.FieldsFunc(descr, func(r rune) bool {
		return r == ' ' || r == ',' || r == ';' || r == ':' || r == '(' || r == ')' || r == '\t'
	})
	for i, t := range tokens {
		label := strings.ToUpper(strings.TrimRight(t, ".#"))
		if (label == "PN" || label == "P/N") && i+1 < len(tokens) && hasDigit(tokens[i+1]) {
			return tokens[i+1]
		}
		if label == "PART" && i+2 < len(tokens) {
			next := strings.ToUpper(strings.TrimRight(tokens[i+1], ".#"))
			if (next == "NUMBER" || next == "NO") && hasDigit(tokens[i+2]) {
				return tokens[i+2]
			}
		}
	}
	for _, t := range tokens {
		if isXeroxPartNumber(t) {
			return t
		}
	}
	for i, t := range tokens {
		if t == "HP" && i+1 < len(tokens) && isHPPartNumber(tokens[i+1]) {
			return tokens[i+1]
		}
	}
	return ""
}

// isXeroxPartNumber matches Xerox supply numbers: three digits, R, five
// digits (006R01509, 008R08101).
func isXeroxPartNumber(t string) bool {
	if len(t) != 9 || (t[3] != 'R' && t[3] != 'r') {
		return false
	}
	return allDigits(t[:3]) && allDigits(t[4:])
}

// isHPPartNumber matches HP LaserJet supply numbers: one to three
// letters, two to five digits, up to two letters (CF410A, Q2612A, W2030X).
func isHPPartNumber(t string) bool {
	i := 0
	for i < len(t) && isUpper(t[i]) {
		i++
	}
	letters := i
	for i < len(t) && isDigit(t[i]) {
		i++
	}
	digits := i - letters
	suffix := len(t) - i
	for ; i < len(t); i++ {
		if !isUpper(t[i]) {
			return false
		}
	}
	return letters >= 1 && letters <= 3 && digits >= 2 && digits <= 5 && suffix <= 2
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			return true
		}
	}
	return false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// supplyUnits names PrtMarkerSuppliesSupplyUnitTC values; other (1) and
// unknown (2) are left out, as absent says the same.
var supplyUnits = map[int64]string{
	3:  "ten_thousandths_of_inches",
	4:  "micrometers",
	7:  "impressions",
	8:  "sheets",
	11: "hours",
	12: "thousandths_of_ounces",
	13: "tenths_of_grams",
	14: "hundredths_of_fluid_ounces",
	15: "tenths_of_milliliters",
	16: "feet",
	17: "meters",
	18: "items",
	19: "percent",
}

// Special prtMarkerSuppliesLevel values (RFC 3805), and Ricoh's empty.
const (
	levelOther         = -1
	levelUnknown       = -2
	levelSomeRemaining = -3
	levelRicohEmpty    = -100
)

// level is the decoded level of a supply.
type level struct {
	state       domain.LevelState
	percent     *int // share remaining, consumables only
	fullPercent *int // how full, receptacles only
}

// decodeLevel turns a raw level and capacity into a state and, only when
// both are real numbers, a percentage. It never makes one up: the special
// values become states, as does a capacity the device does not know.
func decodeLevel(raw, capacity *int64, receptacle bool, vendor string) level {
	switch {
	case raw == nil:
		return level{state: domain.LevelUnknown}
	case *raw == levelSomeRemaining:
		return level{state: domain.LevelSomeRemaining}
	case *raw == levelUnknown:
		return level{state: domain.LevelUnknown}
	case *raw == levelOther:
		return level{state: domain.LevelOther}
	case *raw == levelRicohEmpty && vendor == domain.VendorRicoh:
		// Ricoh firmware reports an empty cartridge as -100.
		return level{state: domain.LevelEmpty}
	case *raw < 0:
		return level{state: domain.LevelUnknown}
	case capacity == nil || *capacity <= 0:
		// -1 (no restriction), -2 (unknown) or 0: nothing to divide by.
		return level{state: domain.LevelUnknown}
	case *raw > *capacity:
		// Some Brother models report levels above their capacity.
		return level{state: domain.LevelOverCapacity}
	}
	pct := roundPercent(*raw, *capacity)
	if receptacle {
		full := 100 - pct
		return level{state: domain.LevelMeasured, fullPercent: &full}
	}
	return level{state: domain.LevelMeasured, percent: &pct}
}

// roundPercent is round(100·part/whole), halves rounded up, for
// 0 ≤ part ≤ whole, 0 < whole: always 0..100. It works in 128 bits, as a
// device may send 8-byte levels (2^57 of 2^58 once gave −13 %), and
// clamps arguments outside its domain rather than return nonsense.
func roundPercent(part, whole int64) int {
	if whole <= 0 || part <= 0 {
		return 0
	}
	if part >= whole {
		return 100
	}
	// (200·part + whole) / (2·whole): the numerator needs up to 72 bits;
	// 2·whole < 2^64 and the quotient ≤ 100, so Div64 cannot overflow.
	hi, lo := bits.Mul64(200, uint64(part))
	lo, carry := bits.Add64(lo, uint64(whole), 0)
	hi += carry
	q, _ := bits.Div64(hi, lo, 2*uint64(whole))
	return int(q) //nolint:gosec // q ≤ 100 (see above)
}
