// Package i18n is the portal's message catalogue: every string a visitor
// reads comes from it, in French or English, together with the number and
// time formats of each language. Each language's catalogue is made of
// maps, one per part of the site (messages_fr.go, messages_signin_fr.go…,
// and their _en twins); a test keeps the two languages in step.
package i18n

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Lang is a language the portal speaks, as an ISO 639-1 code.
type Lang string

// Languages. French is the default: Meterline's customer documents are
// French.
const (
	FR Lang = "fr"
	EN Lang = "en"

	Default = FR
)

// Langs lists the languages the portal speaks, the default first.
var Langs = []Lang{FR, EN}

var catalogues = map[Lang]map[string]string{
	FR: merge(messagesFR, signinFR, usersFR, backOfficeFR, readsFR, equipmentFR, shippingFR),
	EN: merge(messagesEN, signinEN, usersEN, backOfficeEN, readsEN, equipmentEN, shippingEN),
}

// merge joins the parts of a catalogue: each part of the site keeps its
// messages in a file of its own (messages_fr.go, messages_signin_fr.go…),
// so that two changes to two parts do not touch one map. A key in two
// parts is a mistake caught at start-up.
func merge(parts ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, part := range parts {
		for k, v := range part {
			if _, dup := out[k]; dup {
				panic("i18n: message " + k + " is defined twice")
			}
			out[k] = v
		}
	}
	return out
}

// Parse returns the language a code names ("fr", "en-GB", "EN"…), and false
// when the portal does not speak it.
func Parse(s string) (Lang, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if base, _, ok := strings.Cut(s, "-"); ok {
		s = base
	}
	l := Lang(s)
	_, ok := catalogues[l]
	return l, ok
}

// Negotiate picks the language to answer an Accept-Language header with:
// the supported language of highest quality, the first listed on a tie,
// and Default when none is supported.
func Negotiate(acceptLanguage string) Lang {
	best, bestQ := Default, 0.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(part, ";")
		l, ok := Parse(tag)
		if !ok {
			continue
		}
		q := 1.0
		if v, found := strings.CutPrefix(strings.TrimSpace(params), "q="); found {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				continue
			}
			q = f
		}
		if q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

// Keys returns the keys of a language's catalogue, sorted; tests use it.
func Keys(l Lang) []string {
	keys := make([]string, 0, len(catalogues[l]))
	for k := range catalogues[l] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Printer formats messages, numbers and times in one language.
type Printer struct {
	lang Lang
	msgs map[string]string
}

// For returns the printer of a language; an unsupported one gets Default's.
func For(l Lang) *Printer {
	msgs, ok := catalogues[l]
	if !ok {
		l, msgs = Default, catalogues[Default]
	}
	return &Printer{lang: l, msgs: msgs}
}

// Lang is the printer's language.
func (p *Printer) Lang() Lang { return p.lang }

// Has tells whether the catalogue has a message for key.
func (p *Printer) Has(key string) bool {
	_, ok := p.msgs[key]
	return ok
}

// T returns the message for key, formatted with args as by fmt.Sprintf when
// any are given. A missing key is returned as is, so that it shows on the
// page instead of failing it; the catalogue test catches it first.
func (p *Printer) T(key string, args ...any) string {
	msg, ok := p.msgs[key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, args...)
}

// N returns the plural form of key for n: the message key+".one" or
// key+".other", formatted with n. French treats 0 and 1 as singular,
// English only 1.
func (p *Printer) N(key string, n int64) string {
	one := n == 1 || (p.lang == FR && n == 0)
	if one {
		return p.T(key+".one", p.Number(n))
	}
	return p.T(key+".other", p.Number(n))
}

// Number formats an integer with the language's thousands separator: a
// narrow no-break space in French (12 345), a comma in English (12,345).
func (p *Printer) Number(n int64) string {
	sep := p.T("format.thousands")
	digits := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, digits = "-", digits[1:]
	}
	var b strings.Builder
	b.WriteString(sign)
	for i, r := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Percent formats a percentage the language's way: "42 %" (with a
// no-break space) in French, "42%" in English.
func (p *Printer) Percent(n int) string {
	return p.T("format.percent", n)
}

// DateTime formats an instant in full, in loc.
func (p *Printer) DateTime(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	if p.lang == EN {
		return t.Format("Jan 2, 2006, 15:04 MST")
	}
	return fmt.Sprintf("%d %s %d, %s", t.Day(), p.T(monthKeys[t.Month()-1]), t.Year(), t.Format("15:04 MST"))
}

// Date formats a calendar date: "1 avr. 2025", "Apr 1, 2025".
func (p *Printer) Date(t time.Time) string {
	if p.lang == EN {
		return t.Format("Jan 2, 2006")
	}
	return fmt.Sprintf("%d %s %d", t.Day(), p.T(monthKeys[t.Month()-1]), t.Year())
}

var monthKeys = [12]string{
	"month.jan", "month.feb", "month.mar", "month.apr", "month.may", "month.jun",
	"month.jul", "month.aug", "month.sep", "month.oct", "month.nov", "month.dec",
}

// Ago says how long before now t was, in words: "il y a 3 min",
// "3 min ago". Past thirty days it gives the date. A t after now (clocks
// drift) reads as just now.
func (p *Printer) Ago(t, now time.Time, loc *time.Location) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return p.T("ago.now")
	case d < time.Hour:
		return p.T("ago.minutes", int(d/time.Minute))
	case d < 24*time.Hour:
		return p.T("ago.hours", int(d/time.Hour))
	case d < 30*24*time.Hour:
		return p.N("ago.days", int64(d/(24*time.Hour)))
	default:
		t = t.In(loc)
		return p.T("ago.date", t.Day(), p.T(monthKeys[t.Month()-1]), t.Year())
	}
}
