package sim

import (
	"fmt"

	"github.com/meterline/meterline/printersim/snmprec"
)

// meterSum says that the meters in parts add up to the meter(s) in total on
// any device that has all of them — how a billing system would check a
// read (black + colour = total).
type meterSum struct {
	name  string
	total []string
	parts []string
}

const (
	lifeCount   = "1.3.6.1.2.1.43.10.2.1.4.1.1"
	hpTotal     = "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.5.0"
	hpMono      = "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.6.0"
	hpColor     = "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.7.0"
	xeroxTotal  = "1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.1"
	xeroxColor  = "1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.33"
	xeroxBlack  = "1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.34"
	canon       = "1.3.6.1.4.1.1602.1.11.1.3.1.4."
	ricoh       = "1.3.6.1.4.1.367.3.2.1.2.19.5.1.9."
	sharp       = "1.3.6.1.4.1.2385.1.1.19.2.1.3."
	kyocera     = "1.3.6.1.4.1.1347."
	konica      = "1.3.6.1.4.1.18334.1.1.1.5.7.2."
	okiTotal    = "1.3.6.1.4.1.2001.1.1.1.1.100.1.1.1.3.1"
	kyoceraLife = kyocera + "43.10.1.1.12.1.1"
)

var meterSums = []meterSum{
	{"HP colour", []string{hpTotal}, []string{hpMono, hpColor}},
	{"HP total is the life count", []string{lifeCount}, []string{hpTotal}},
	{"Xerox colour", []string{xeroxTotal}, []string{xeroxBlack, xeroxColor}},
	{"Xerox total is the life count", []string{lifeCount}, []string{xeroxTotal}},
	{"Canon", []string{canon + "301"}, []string{canon + "112", canon + "113", canon + "122", canon + "123"}},
	{"Canon total is the life count", []string{lifeCount}, []string{canon + "301"}},
	{"Ricoh", []string{ricoh + "1"}, []string{ricoh + "13", ricoh + "14"}},
	{"Ricoh total is the life count", []string{lifeCount}, []string{ricoh + "1"}},
	{"Sharp prints", []string{sharp + "1.4.60"}, []string{sharp + "1.4.61", sharp + "1.4.63"}},
	{"Sharp totals", []string{lifeCount}, []string{sharp + "5.4.61", sharp + "5.4.63", sharp + "5.4.64", sharp + "5.4.80"}},
	{"Sharp black", []string{sharp + "5.4.61"}, []string{sharp + "1.4.61", sharp + "4.4.61"}},
	{"Kyocera MFP prints", []string{kyocera + "42.3.1.1.1.1.1"}, []string{kyocera + "42.3.1.2.1.1.1.1", kyocera + "42.3.1.2.1.1.1.3"}},
	{"Kyocera MFP total", []string{kyoceraLife}, []string{kyocera + "42.3.1.1.1.1.1", kyocera + "42.3.1.1.1.1.2", kyocera + "42.3.1.1.1.1.4"}},
	{"Kyocera printer", []string{kyoceraLife}, []string{kyocera + "42.2.2.1.1.3.1.1"}},
	{"Kyocera total is the life count", []string{lifeCount}, []string{kyoceraLife}},
	{"Konica", []string{konica + "1.1.0"}, []string{konica + "2.1.5.1.1", konica + "2.1.5.1.2", konica + "2.1.5.2.1", konica + "2.1.5.2.2"}},
	{"Konica total is the life count", []string{lifeCount}, []string{konica + "1.1.0"}},
	{"OKI total is the life count", []string{lifeCount}, []string{okiTotal}},
}

// checkMeterSums evaluates every applicable meterSum with get, returning
// one message per mismatch and the number of sums checked.
func checkMeterSums(get func(oid string) (snmprec.Value, bool)) (problems []string, checked int) {
	sum := func(oids []string) (int64, bool) {
		var total int64
		for _, oid := range oids {
			v, ok := get(oid)
			if !ok {
				return 0, false
			}
			n, ok := v.Number()
			if !ok {
				return 0, false
			}
			total += n
		}
		return total, true
	}
	for _, s := range meterSums {
		total, ok1 := sum(s.total)
		parts, ok2 := sum(s.parts)
		if !ok1 || !ok2 {
			continue
		}
		checked++
		if total != parts {
			problems = append(problems, fmt.Sprintf("%s: total %d, parts add up to %d", s.name, total, parts))
		}
	}
	return problems, checked
}
