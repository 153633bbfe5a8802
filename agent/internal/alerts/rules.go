package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// deviceState is what the rules keep of a device between reads.
type deviceState struct {
	Tick     uint64                       `json:"tick"`
	LastRead time.Time                    `json:"last_read,omitzero"`
	Meters   map[domain.CounterKind]int64 `json:"meters,omitempty"`
	Supplies map[int]supplyState          `json:"supplies,omitempty"`
	// Conditions holds the watched conditions present in the last read
	// that had a status.
	Conditions  []domain.Condition `json:"conditions,omitempty"`
	Unreachable bool               `json:"unreachable,omitempty"`
}

// supplyState is what the rules keep of one supply.
type supplyState struct {
	Kind            domain.SupplyKind `json:"kind"`
	Colour          string            `json:"colour,omitempty"`
	PartNumber      string            `json:"part_number,omitempty"`
	CartridgeSerial string            `json:"cartridge_serial,omitempty"`
	State           domain.LevelState `json:"state"`
	// Remaining is the share left, when the device really knows it.
	Remaining *int `json:"remaining,omitempty"`
	// LowRaised and EmptyRaised say the alert was raised and is not yet
	// re-armed.
	LowRaised   bool `json:"low_raised,omitempty"`
	EmptyRaised bool `json:"empty_raised,omitempty"`
}

// watchedMeters are the meters whose going backwards is reported: the
// billing ones.
var watchedMeters = []domain.CounterKind{domain.CounterTotal, domain.CounterBlack, domain.CounterColour}

// watchedConditions are the conditions that raise events.
var watchedConditions = []domain.Condition{domain.CondNoToner, domain.CondLowToner, domain.CondJammed}

// finding is an event before it has an ID: subject names what in the
// device it is about, so that two events of one kind in one read differ.
type finding struct {
	kind              domain.EventKind
	subject           string
	message           string
	supply            *wire.Supply
	previous, current *int64
}

// evaluate applies the rules to a read of a device whose previous state is
// prev (nil on its first read) and returns the next state and the events.
//
// On a first read, standing conditions (a jam, an empty or low toner) are
// raised: an agent started, or a device discovered, while a cartridge is
// already empty would otherwise never report it until the cartridge is
// replaced, and silent empties are what users most complain of. Each is
// raised once, and Snapshot/Restore keep a restart from raising it again.
// Comparisons with a previous read (replacements, meters going backwards)
// need one, so a first read raises none of them.
func evaluate(agentID, key string, prev *deviceState, r wire.DeviceRead, o Options) (deviceState, []wire.Event) {
	var base deviceState
	if prev != nil {
		base = *prev
	}
	next := deviceState{
		Tick:        base.Tick,
		LastRead:    r.ReadAt,
		Meters:      maps.Clone(base.Meters),
		Supplies:    maps.Clone(base.Supplies),
		Conditions:  base.Conditions,
		Unreachable: false, // a read is an answer
	}
	if next.Meters == nil {
		next.Meters = make(map[domain.CounterKind]int64)
	}
	if next.Supplies == nil {
		next.Supplies = make(map[int]supplyState)
	}

	var found []finding
	// Supplies missing from this read keep their state: a read that lost
	// its supply walk must not re-arm every alert.
	for _, s := range r.Supplies {
		old, had := base.Supplies[s.Index]
		if had && !sameSupply(old, s) {
			// Another supply sits at this index now: no history to compare.
			old, had = supplyState{}, false
		}
		cur, fs := supplyRules(old, had, s, o)
		next.Supplies[s.Index] = cur
		found = append(found, fs...)
	}

	if r.Status != nil {
		present := watched(r.Status.Conditions)
		found = append(found, conditionRules(base.Conditions, present, next.Supplies)...)
		next.Conditions = present
	}

	for _, kind := range watchedMeters {
		v, ok := r.Counter(kind)
		if !ok {
			continue // an absent meter keeps its last value
		}
		if p, had := base.Meters[kind]; had && v < p {
			found = append(found, finding{
				kind:     domain.EventCounterBackwards,
				subject:  "meter/" + string(kind),
				message:  meterName(kind) + " meter went from " + strconv.FormatInt(p, 10) + " to " + strconv.FormatInt(v, 10),
				previous: &p,
				current:  &v,
			})
		}
		next.Meters[kind] = v
	}

	if len(found) == 0 {
		return next, nil
	}
	events := make([]wire.Event, len(found))
	for i, f := range found {
		events[i] = newEvent(agentID, key, r.Serial, r.Address, r.ReadAt, f)
	}
	return next, events
}

// supplyRules applies the replacement and level rules to one supply. old
// is its previous state when had.
func supplyRules(old supplyState, had bool, s wire.Supply, o Options) (supplyState, []finding) {
	cur := supplyState{
		Kind:            s.Kind,
		Colour:          s.Colour,
		PartNumber:      s.PartNumber,
		CartridgeSerial: cartridgeSerial(s.Description),
		State:           s.State,
		Remaining:       remaining(s),
		LowRaised:       old.LowRaised,
		EmptyRaised:     old.EmptyRaised,
	}
	var found []finding
	if had {
		if why, ok := replaced(old, cur, o); ok {
			found = append(found, supplyFinding(domain.EventSupplyReplaced, s, supplyLabel(s)+" replaced"+why))
			cur.LowRaised, cur.EmptyRaised = false, false
		}
	}
	if !tracksLevel(s) {
		return cur, found
	}

	if cur.Remaining != nil && *cur.Remaining > o.LowPercent+o.Hysteresis {
		cur.LowRaised, cur.EmptyRaised = false, false
	}
	if s.State == domain.LevelSomeRemaining {
		// The device no longer says empty (a Ricoh going from -100 to -3 is
		// a new cartridge); the level itself is unknown, so low stays.
		cur.EmptyRaised = false
	}

	switch {
	case cur.Remaining == nil:
		// -1, -2, -3, over capacity: nothing a threshold can be applied to.
	case *cur.Remaining == 0:
		if !cur.EmptyRaised {
			found = append(found, supplyFinding(domain.EventTonerEmpty, s, supplyLabel(s)+" empty"))
		}
		// Empty implies low: no toner_low after the fact.
		cur.EmptyRaised, cur.LowRaised = true, true
	case *cur.Remaining <= o.LowPercent:
		if !cur.LowRaised {
			found = append(found, supplyFinding(domain.EventTonerLow, s, supplyLabel(s)+" at "+strconv.Itoa(*cur.Remaining)+" %"))
		}
		cur.LowRaised = true
	}
	return cur, found
}

// conditionRules raises the events of conditions that appeared since the
// last status. A device-wide low or empty toner is not raised when a
// supply's own alert already stands: that one says which colour.
func conditionRules(before, present []domain.Condition, supplies map[int]supplyState) []finding {
	appeared := func(c domain.Condition) bool {
		return slices.Contains(present, c) && !slices.Contains(before, c)
	}
	var anyLow, anyEmpty bool
	for _, s := range supplies {
		anyLow = anyLow || s.LowRaised || s.EmptyRaised
		anyEmpty = anyEmpty || s.EmptyRaised
	}
	var found []finding
	if appeared(domain.CondNoToner) && !anyEmpty {
		found = append(found, finding{kind: domain.EventTonerEmpty, subject: conditionSubjectPrefix + string(domain.CondNoToner),
			message: "Toner empty (reported by the device)"})
		anyLow = true // empty says low too
	}
	if appeared(domain.CondLowToner) && !anyLow {
		found = append(found, finding{kind: domain.EventTonerLow, subject: conditionSubjectPrefix + string(domain.CondLowToner),
			message: "Toner low (reported by the device)"})
	}
	if appeared(domain.CondJammed) {
		found = append(found, finding{kind: domain.EventJam, subject: conditionSubjectPrefix + string(domain.CondJammed),
			message: "Paper jam"})
	}
	return found
}

// watched keeps the watched conditions of a status, in a fixed order.
func watched(conds []domain.Condition) []domain.Condition {
	var out []domain.Condition
	for _, c := range watchedConditions {
		if slices.Contains(conds, c) {
			out = append(out, c)
		}
	}
	return out
}

// replaced says whether a supply was replaced between two reads, and why
// in a few words for the message.
func replaced(old, cur supplyState, o Options) (string, bool) {
	switch {
	case old.PartNumber != "" && cur.PartNumber != "" && !strings.EqualFold(old.PartNumber, cur.PartNumber):
		return " (part " + old.PartNumber + " → " + cur.PartNumber + ")", true
	case old.CartridgeSerial != "" && cur.CartridgeSerial != "" && old.CartridgeSerial != cur.CartridgeSerial:
		return " (new cartridge serial)", true
	case old.Remaining != nil && cur.Remaining != nil &&
		*old.Remaining <= o.ReplacedFrom && *cur.Remaining >= o.ReplacedTo:
		// Only measured levels count: a -3 turning into 100 % is the
		// device learning its level, not a new cartridge.
		return " (" + strconv.Itoa(*old.Remaining) + " % → " + strconv.Itoa(*cur.Remaining) + " %)", true
	}
	return "", false
}

// sameSupply says whether a supply at an index is the one seen there
// before, rather than another one the device now lists there.
func sameSupply(old supplyState, s wire.Supply) bool {
	return old.Kind == s.Kind && old.Colour == s.Colour
}

// tracksLevel says whether the low and empty rules apply: toner and ink
// cartridges, not what fills up.
func tracksLevel(s wire.Supply) bool {
	return (s.Kind == domain.SupplyToner || s.Kind == domain.SupplyInk) && !s.Receptacle
}

// remaining is the share of a supply left, or nil when the device does not
// really know it. A receptacle's remaining is its free space. An explicit
// empty state is 0.
func remaining(s wire.Supply) *int {
	switch {
	case s.State == domain.LevelEmpty:
		zero := 0
		return &zero
	case s.State != domain.LevelMeasured:
		return nil
	case s.Receptacle && s.FullPercent != nil:
		free := 100 - *s.FullPercent
		return &free
	case !s.Receptacle && s.Percent != nil:
		p := *s.Percent
		return &p
	}
	return nil
}

// cartridgeSerial finds the cartridge serial number some devices put in
// the description (Xerox "Black Toner, PN 006R01509;SN48A17C80E0000512").
// A changed serial is a replaced cartridge even when the level says
// nothing.
func cartridgeSerial(descr string) string {
	fields := strings.FieldsFunc(descr, func(r rune) bool { return r == ';' || r == ',' || r == ' ' })
	for i, f := range fields {
		label := strings.ToUpper(strings.TrimRight(f, ":#."))
		var sn string
		switch {
		case (label == "SN" || label == "S/N") && i+1 < len(fields):
			sn = fields[i+1]
		case strings.HasPrefix(f, "SN") && hasDigit(f[2:]):
			// Glued to its label, as Xerox does; the digit keeps words
			// such as "Snap" or "SNAP" out.
			sn = f[2:]
		default:
			continue
		}
		if sn = strings.Trim(sn, ":#"); sn != "" && !strings.EqualFold(sn, "unknown") {
			return sn
		}
	}
	return ""
}

func hasDigit(s string) bool {
	return strings.ContainsAny(s, "0123456789")
}

func supplyFinding(kind domain.EventKind, s wire.Supply, message string) finding {
	sc := s
	return finding{kind: kind, subject: "supply/" + strconv.Itoa(s.Index), message: message, supply: &sc}
}

// newEvent gives a finding its envelope and ID.
func newEvent(agentID, key, serial, address string, at time.Time, f finding) wire.Event {
	return wire.Event{
		Schema:   wire.SchemaVersion,
		AgentID:  agentID,
		ID:       EventID(agentID, key, f.kind, f.subject, at),
		At:       at,
		Kind:     f.kind,
		Serial:   serial,
		Address:  address,
		Message:  f.message,
		Supply:   f.supply,
		Previous: f.previous,
		Current:  f.current,
	}
}

// EventID is the deterministic ID of an event: the same read observed
// again gives the same ID, so a re-sent event is stored once by the
// collector. subject names what in the device the event is about
// ("supply/3", "meter/black", "condition/jammed", "device").
func EventID(agentID, key string, kind domain.EventKind, subject string, at time.Time) string {
	h := sha256.New()
	for _, part := range []string{agentID, key, string(kind), subject, at.UTC().Format(time.RFC3339Nano)} {
		h.Write([]byte(part))
		h.Write([]byte{0}) // no two part lists hash alike
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
