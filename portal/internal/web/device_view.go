package web

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// This file turns a device and its latest read into what a page shows:
// every string is formatted here, in the visitor's language, so that the
// templates only lay it out.

// staleAfter is how old a latest read may be before the page flags it.
const staleAfter = 24 * time.Hour

// lowLevel is the percentage at or under which a consumable shows as low,
// and highFull the one at or over which a receptacle shows as nearly full.
const (
	lowLevel = 10
	highFull = 90
)

// deviceView is one device as a page shows it.
type deviceView struct {
	ID int64
	// Name is the serial number, or the device's key when it has none
	// (NoSerial, explained by NoSerialTitle).
	Name          string
	NoSerial      bool
	NoSerialTitle string
	// Make is vendor and model, or a word saying they are unknown.
	Make        string
	MakeUnknown bool
	Address     string
	// AddressTitle names the address and the agent that reads the device.
	AddressTitle string
	Black        counterView
	Colour       counterView
	Total        counterView
	Toners       []levelView
	Others       []supplyView
	Badges       []badgeView
	LastRead     readTimeView
}

// counterView is a page counter, formatted; Absent when the device has no
// such counter, shown as a dash, or, when the read says the model does not
// report it (NotReported), in words, so that no one waits for a meter that
// will not come: it must be read by hand.
type counterView struct {
	Text        string
	Absent      bool
	NotReported bool
}

// levelView is one toner or ink level: a bar coloured by the colorant whose
// Width is the percent left, present only when the level was measured;
// otherwise Text says the state in words.
type levelView struct {
	Label string
	// Colour is the bar's CSS class: k, c, m, y, or x for another colour.
	Colour   string
	Measured bool
	Width    int
	Text     string
	Low      bool
	Title    string
}

// supplyView is another supply (drum, waste container, fuser…) in a line.
type supplyView struct {
	Text  string
	Title string
	Alert bool
}

// badgeView is a status condition; Class is ok, warn, error or muted.
type badgeView struct {
	Text  string
	Class string
}

// readTimeView is when the latest read was taken.
type readTimeView struct {
	None bool
	// Text is relative ("il y a 3 min"), Title absolute, ISO for <time>.
	Text  string
	Title string
	ISO   string
	Stale bool
}

// newDeviceView formats a device for the page.
func newDeviceView(d store.DeviceSummary, p *i18n.Printer, now time.Time, loc *time.Location) deviceView {
	v := deviceView{
		ID:       d.ID,
		Name:     d.Name(),
		NoSerial: d.Serial == "",
		Make:     domain.DeviceLabel(d.Vendor, d.Model),
		Address:  d.Address,
	}
	if v.NoSerial {
		v.NoSerialTitle = p.T("device.no_serial", d.Key)
	}
	if v.Make == "" {
		v.Make, v.MakeUnknown = p.T("device.no_model"), true
	}
	v.AddressTitle = p.T("col.address")
	if d.AgentID != "" {
		v.AddressTitle = p.T("device.address", d.AgentID)
	}
	r := d.Latest
	if r == nil {
		none := counterView{Text: p.T("value.none"), Absent: true}
		v.Black, v.Colour, v.Total = none, none, none
		v.LastRead = readTimeView{None: true, Text: p.T("device.no_read")}
		return v
	}
	v.Black = billingCounter(r, r.Black, domain.CounterBlack, p)
	v.Colour = billingCounter(r, r.Colour, domain.CounterColour, p)
	v.Total = counter(r.Total, p)
	v.Toners, v.Others = supplies(r.Supplies, p)
	v.Badges = badges(r.Status, p)
	v.LastRead = readTimeView{
		Text:  p.Ago(r.At, now, loc),
		Title: p.DateTime(r.At, loc),
		ISO:   r.At.UTC().Format(time.RFC3339),
		Stale: now.Sub(r.At) > staleAfter,
	}
	if v.LastRead.Stale {
		v.LastRead.Title = v.LastRead.Title + " — " + p.T("device.stale")
	}
	return v
}

// billingCounter is a black or colour meter: absent from a read that says
// the model does not report it, it says so.
func billingCounter(r *store.Read, n *int64, kind domain.CounterKind, p *i18n.Printer) counterView {
	if n == nil && r.NotReported(kind) {
		return counterView{Text: p.T("value.not_reported"), Absent: true, NotReported: true}
	}
	return counter(n, p)
}

func counter(n *int64, p *i18n.Printer) counterView {
	if n == nil {
		return counterView{Text: p.T("value.none"), Absent: true}
	}
	return counterView{Text: p.Number(*n)}
}

// colourOrder is the order toners are listed in: black, cyan, magenta,
// yellow, then any other colorant.
var colourOrder = map[string]int{"k": 0, "c": 1, "m": 2, "y": 3, "x": 4}

// supplies splits a read's supplies into toner/ink levels, in colour order,
// and the other supplies, in the device's order.
func supplies(all []wire.Supply, p *i18n.Printer) (toners []levelView, others []supplyView) {
	type ranked struct {
		rank, index int
		view        levelView
	}
	var rs []ranked
	for _, s := range all {
		if s.Kind == domain.SupplyToner || s.Kind == domain.SupplyInk {
			v := tonerLevel(s, p)
			rs = append(rs, ranked{colourOrder[v.Colour], s.Index, v})
		}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.index, b.index))
	})
	for _, r := range rs {
		toners = append(toners, r.view)
	}
	rest := slices.Clone(all)
	slices.SortStableFunc(rest, func(a, b wire.Supply) int { return cmp.Compare(a.Index, b.Index) })
	for _, s := range rest {
		if s.Kind != domain.SupplyToner && s.Kind != domain.SupplyInk {
			others = append(others, otherSupply(s, p))
		}
	}
	return toners, others
}

func tonerLevel(s wire.Supply, p *i18n.Printer) levelView {
	v := levelView{Colour: colourClass(s), Title: supplyTitle(s, p)}
	v.Label = colourLabel(s, v.Colour, p)
	if s.State == domain.LevelMeasured && s.Percent != nil {
		pct := min(max(*s.Percent, 0), 100)
		v.Measured, v.Width, v.Text, v.Low = true, pct, p.Percent(pct), pct <= lowLevel
		return v
	}
	v.Text, v.Low = levelWords(s, p), s.State == domain.LevelEmpty
	return v
}

func otherSupply(s wire.Supply, p *i18n.Printer) supplyView {
	label := p.T("supply.other")
	if k := "supply." + string(s.Kind); s.Kind != domain.SupplyOther && p.Has(k) {
		label = p.T(k)
	} else if s.Description != "" {
		label = s.Description
	}
	if s.Colour != "" {
		label = p.T("supply.with_colour", label, strings.ToLower(colourLabel(s, colourClass(s), p)))
	}
	v := supplyView{Title: supplyTitle(s, p)}
	var value string
	switch {
	case s.Receptacle && s.State == domain.LevelMeasured && s.FullPercent != nil:
		full := min(max(*s.FullPercent, 0), 100)
		value, v.Alert = p.T("supply.full", p.Percent(full)), full >= highFull
	case !s.Receptacle && s.State == domain.LevelMeasured && s.Percent != nil:
		pct := min(max(*s.Percent, 0), 100)
		value, v.Alert = p.Percent(pct), pct <= lowLevel
	default:
		value = levelWords(s, p)
		v.Alert = s.State == domain.LevelEmpty
	}
	v.Text = p.T("supply.item", label, value)
	return v
}

// levelWords says a level that is not a measured percentage in words; it
// never makes a percentage up. A receptacle's level is the room left in
// it, so "some remaining" reads "not full" and "empty" reads "full".
func levelWords(s wire.Supply, p *i18n.Printer) string {
	if s.Receptacle {
		switch s.State {
		case domain.LevelSomeRemaining:
			return p.T("receptacle.some_remaining")
		case domain.LevelEmpty:
			return p.T("receptacle.empty")
		}
	}
	switch s.State {
	case domain.LevelSomeRemaining:
		if k := "level.some_remaining." + string(s.Kind); p.Has(k) {
			return p.T(k)
		}
		return p.T("level.some_remaining")
	case domain.LevelOther, domain.LevelEmpty, domain.LevelOverCapacity:
		return p.T("level." + string(s.State))
	default: // unknown, a measured level without a percent, a state we do not know yet
		return p.T("level.unknown")
	}
}

// colourClass reads a supply's colorant, from its colour or else its
// description, as one of the bar classes k, c, m, y or x.
func colourClass(s wire.Supply) string {
	name := strings.ToLower(s.Colour)
	if name == "" {
		name = strings.ToLower(s.Description)
	}
	switch {
	case strings.Contains(name, "black"), strings.Contains(name, "noir"):
		return "k"
	case strings.Contains(name, "cyan"):
		return "c"
	case strings.Contains(name, "magenta"):
		return "m"
	case strings.Contains(name, "yellow"), strings.Contains(name, "jaune"):
		return "y"
	default:
		return "x"
	}
}

// colourLabel names a supply's colour in the page's language, or as the
// device names it when it is none of the four process colours.
func colourLabel(s wire.Supply, class string, p *i18n.Printer) string {
	switch class {
	case "k":
		return p.T("colour.black")
	case "c":
		return p.T("colour.cyan")
	case "m":
		return p.T("colour.magenta")
	case "y":
		return p.T("colour.yellow")
	}
	if s.Colour != "" {
		return s.Colour
	}
	if s.Description != "" {
		return s.Description
	}
	return p.T("supply." + string(s.Kind))
}

// supplyTitle is the supply as the device describes it, with its part
// number when known.
func supplyTitle(s wire.Supply, p *i18n.Printer) string {
	if s.PartNumber != "" {
		return p.T("supply.part", s.Description, s.PartNumber)
	}
	return s.Description
}

// severeConditions are the conditions that stop printing; the others warn.
var severeConditions = map[domain.Condition]bool{
	domain.CondNoPaper:           true,
	domain.CondNoToner:           true,
	domain.CondDoorOpen:          true,
	domain.CondJammed:            true,
	domain.CondOffline:           true,
	domain.CondServiceRequested:  true,
	domain.CondInputTrayMissing:  true,
	domain.CondOutputTrayMissing: true,
	domain.CondSupplyMissing:     true,
	domain.CondOutputFull:        true,
}

// badges shows a device's status: its state when it is not running, then
// each condition it reports; "OK" when there is nothing to say.
func badges(st *wire.Status, p *i18n.Printer) []badgeView {
	if st == nil {
		return nil
	}
	var bs []badgeView
	switch st.Device {
	case domain.DeviceDown:
		bs = append(bs, badgeView{p.T("status.device.down"), "error"})
	case domain.DeviceTesting:
		bs = append(bs, badgeView{p.T("status.device.testing"), "muted"})
	case domain.DeviceWarning:
		if len(st.Conditions) == 0 {
			bs = append(bs, badgeView{p.T("status.device.warning"), "warn"})
		}
	case domain.DeviceUnknown:
		if len(st.Conditions) == 0 {
			bs = append(bs, badgeView{p.T("status.device.unknown"), "muted"})
		}
	}
	for _, c := range st.Conditions {
		text := string(c)
		if k := "cond." + string(c); p.Has(k) {
			text = p.T(k)
		}
		class := "warn"
		if severeConditions[c] {
			class = "error"
		}
		bs = append(bs, badgeView{text, class})
	}
	if len(bs) == 0 {
		bs = append(bs, badgeView{p.T("status.ok"), "ok"})
	}
	return bs
}
