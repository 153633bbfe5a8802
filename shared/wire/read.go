package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/topic"
)

// Bounds on one device read. The agent cleans each read down to them
// (DeviceRead.Clean) and the collector refuses a read beyond them alone
// (DeviceRead.Validate): one rule, written once, on both sides. Together
// they keep one read under MaxReadBytes, so a read always fits a payload.
const (
	// MaxSerialLen bounds a serial number, the device's key.
	MaxSerialLen = 64
	// MaxTextLen bounds a free text field: vendor, model, firmware,
	// address, a supply's description and part number, a counter's source.
	MaxTextLen = 256
	// MaxTokenLen bounds a vocabulary field: a counter kind or unit, a
	// supply kind, colour, unit or state, a device state, a condition.
	MaxTokenLen = 32
	// MaxListLen bounds each list of a read: counters, supplies,
	// conditions.
	MaxListLen = 64
	// MaxReadBytes is the most one read meeting these bounds can take in
	// JSON, whatever its characters (a test builds the worst case).
	MaxReadBytes = 512 << 10
	// MaxBatchIDLen bounds ReadBatch.BatchID.
	MaxBatchIDLen = 64
)

// ClockSkewTolerance is how far past its receipt a read time may lie and
// still count as "now". A read further ahead (an agent clock running fast)
// is stored but flagged, and does not move a device's latest state; one
// beyond MaxFutureSkew is refused.
const ClockSkewTolerance = 5 * time.Minute

// Ahead reports whether the read time lies more than ClockSkewTolerance
// past now.
func (r DeviceRead) Ahead(now time.Time) bool {
	return r.ReadAt.After(now.Add(ClockSkewTolerance))
}

// BatchKey is the batch's identity with its agent and sequence: the
// BatchID the agent's outbox drew at random, or, for a batch of an agent
// that predates it, a hash of the payload (a re-sent batch has the same
// bytes). A sequence reused after a reinstall thus never collides.
func (rb ReadBatch) BatchKey(payload []byte) string {
	if rb.BatchID != "" {
		return rb.BatchID
	}
	sum := sha256.Sum256(payload)
	return "sha256:" + hex.EncodeToString(sum[:12])
}

// validateBatch checks what makes the batch as a whole: without these its
// reads cannot be stored or acknowledged.
func (rb ReadBatch) validateBatch() error {
	if !topic.ValidAgentID(rb.AgentID) {
		return domain.Errorf(domain.EINVALID, "agent id %q is not valid", rb.AgentID)
	}
	if rb.Sequence == 0 {
		return domain.Errorf(domain.EINVALID, "sequence number missing")
	}
	if len(rb.BatchID) > MaxBatchIDLen || !topic.ValidAgentID(rb.BatchID) && rb.BatchID != "" {
		return domain.Errorf(domain.EINVALID, "batch id is not valid")
	}
	return nil
}

// Validate checks one read against the rules every stored read meets. Each
// error is a *domain.Error (EINVALID) that names the field.
func (r DeviceRead) Validate(now time.Time) error {
	switch {
	case r.Address == "":
		return domain.Errorf(domain.EINVALID, "address missing")
	case r.ReadAt.IsZero():
		return domain.Errorf(domain.EINVALID, "read time missing")
	case r.ReadAt.After(now.Add(MaxFutureSkew)):
		return domain.Errorf(domain.EINVALID, "read time %s is in the future", r.ReadAt.Format(time.RFC3339))
	case r.ReadAt.Year() < 2000:
		return domain.Errorf(domain.EINVALID, "read time %s is before 2000", r.ReadAt.Format(time.RFC3339))
	}
	if bad := badText(r.Serial, MaxSerialLen); bad != "" {
		return domain.Errorf(domain.EINVALID, "serial %s", bad)
	}
	for _, f := range r.textFields() {
		if bad := badText(*f.value, f.max); bad != "" {
			return domain.Errorf(domain.EINVALID, "%s %s", f.name, bad)
		}
	}
	if n := len(r.Counters); n > MaxListLen {
		return domain.Errorf(domain.EINVALID, "%d counters (at most %d)", n, MaxListLen)
	}
	if n := len(r.Supplies); n > MaxListLen {
		return domain.Errorf(domain.EINVALID, "%d supplies (at most %d)", n, MaxListLen)
	}
	if n := len(r.Unreported); n > MaxListLen {
		return domain.Errorf(domain.EINVALID, "%d unreported meters (at most %d)", n, MaxListLen)
	}
	if r.Status != nil && len(r.Status.Conditions) > MaxListLen {
		return domain.Errorf(domain.EINVALID, "%d conditions (at most %d)", len(r.Status.Conditions), MaxListLen)
	}
	for _, c := range r.Counters {
		if c.Kind == "" {
			return domain.Errorf(domain.EINVALID, "counter without a kind")
		}
		if c.Value < 0 {
			return domain.Errorf(domain.EINVALID, "counter %s is negative (%d)", c.Kind, c.Value)
		}
	}
	for _, s := range r.Supplies {
		if bad := outOfPercent(s.Percent) || outOfPercent(s.FullPercent); bad {
			return domain.Errorf(domain.EINVALID, "supply %d has a percent outside 0..100", s.Index)
		}
	}
	return nil
}

// Clean returns a copy of the read that meets the bounds Validate checks
// on its fields, and what it changed, one phrase each (for a log line): a
// serial that is too long or holds a NUL is dropped (a truncated serial
// would name another device), other text is cut at its bound and rid of
// NULs, lists are cut at MaxListLen, a counter without a kind or with a
// negative value and a percent outside 0..100 are dropped. The read's
// address and time are the agent's own and are left as they are.
func (r DeviceRead) Clean() (DeviceRead, []string) {
	var changed []string
	r.Counters = append([]Counter(nil), r.Counters...)
	r.Unreported = append([]domain.CounterKind(nil), r.Unreported...)
	r.Supplies = append([]Supply(nil), r.Supplies...)
	if r.Status != nil {
		st := *r.Status
		st.Conditions = append([]domain.Condition(nil), st.Conditions...)
		r.Status = &st
	}

	if bad := badText(r.Serial, MaxSerialLen); bad != "" {
		if t := strings.Trim(r.Serial, " \t\r\n\x00"); badText(t, MaxSerialLen) == "" {
			r.Serial = t // only padded: the serial is good
		} else {
			changed = append(changed, "serial dropped: "+bad)
			r.Serial = ""
		}
	}
	for _, f := range r.textFields() {
		if bad := badText(*f.value, f.max); bad != "" {
			changed = append(changed, f.name+" cut: "+bad)
			*f.value = cutText(*f.value, f.max)
		}
	}
	if n := len(r.Counters); n > MaxListLen {
		changed = append(changed, "counters cut to the first "+strconv.Itoa(MaxListLen))
		r.Counters = r.Counters[:MaxListLen]
	}
	if n := len(r.Supplies); n > MaxListLen {
		changed = append(changed, "supplies cut to the first "+strconv.Itoa(MaxListLen))
		r.Supplies = r.Supplies[:MaxListLen]
	}
	if n := len(r.Unreported); n > MaxListLen {
		changed = append(changed, "unreported meters cut to the first "+strconv.Itoa(MaxListLen))
		r.Unreported = r.Unreported[:MaxListLen]
	}
	if r.Status != nil && len(r.Status.Conditions) > MaxListLen {
		changed = append(changed, "conditions cut to the first "+strconv.Itoa(MaxListLen))
		r.Status.Conditions = r.Status.Conditions[:MaxListLen]
	}
	kept := r.Counters[:0]
	for _, c := range r.Counters {
		switch {
		case c.Kind == "":
			changed = append(changed, "counter without a kind dropped")
		case c.Value < 0:
			changed = append(changed, "negative counter "+string(c.Kind)+" dropped")
		default:
			kept = append(kept, c)
		}
	}
	r.Counters = kept
	for i := range r.Supplies {
		s := &r.Supplies[i]
		if outOfPercent(s.Percent) {
			changed = append(changed, "percent of a supply outside 0..100 dropped")
			s.Percent = nil
		}
		if outOfPercent(s.FullPercent) {
			changed = append(changed, "full percent of a supply outside 0..100 dropped")
			s.FullPercent = nil
		}
	}
	if len(r.Counters) == 0 {
		r.Counters = nil
	}
	if len(r.Unreported) == 0 {
		r.Unreported = nil
	}
	if len(r.Supplies) == 0 {
		r.Supplies = nil
	}
	return r, changed
}

// textField is one bounded string of a read, by name, for Validate and
// Clean to walk the same list.
type textField struct {
	name  string
	value *string
	max   int
}

// textFields lists the read's bounded strings but the serial (whose rule
// differs). The pointers are into r: Clean works on its own copy.
func (r *DeviceRead) textFields() []textField {
	f := []textField{
		{"mac", &r.MAC, MaxTextLen},
		{"vendor", &r.Vendor, MaxTextLen},
		{"model", &r.Model, MaxTextLen},
		{"firmware", &r.Firmware, MaxTextLen},
		{"address", &r.Address, MaxTextLen},
	}
	for i := range r.Counters {
		c := &r.Counters[i]
		f = append(f,
			textField{"counter kind", (*string)(&c.Kind), MaxTokenLen},
			textField{"counter unit", (*string)(&c.Unit), MaxTokenLen},
			textField{"counter source", &c.Source, MaxTextLen})
	}
	for i := range r.Unreported {
		f = append(f, textField{"unreported meter", (*string)(&r.Unreported[i]), MaxTokenLen})
	}
	for i := range r.Supplies {
		s := &r.Supplies[i]
		f = append(f,
			textField{"supply description", &s.Description, MaxTextLen},
			textField{"supply kind", (*string)(&s.Kind), MaxTokenLen},
			textField{"supply colour", &s.Colour, MaxTokenLen},
			textField{"supply part number", &s.PartNumber, MaxTextLen},
			textField{"supply unit", &s.Unit, MaxTokenLen},
			textField{"supply state", (*string)(&s.State), MaxTokenLen})
	}
	if st := r.Status; st != nil {
		f = append(f,
			textField{"device state", (*string)(&st.Device), MaxTokenLen},
			textField{"printer state", (*string)(&st.Printer), MaxTokenLen})
		for i := range st.Conditions {
			f = append(f, textField{"condition", (*string)(&st.Conditions[i]), MaxTokenLen})
		}
	}
	return f
}

// badText says what is wrong with s under a bound of max bytes, or "".
// NUL is refused: PostgreSQL text cannot hold it.
func badText(s string, max int) string {
	switch {
	case len(s) > max:
		return "longer than " + strconv.Itoa(max) + " bytes"
	case strings.IndexByte(s, 0) >= 0:
		return "holds a NUL character"
	}
	return ""
}

// AckReason bounds a reason given in an ack (BatchAck.Rejected,
// RefusedRead.Reason): an error message may quote what it refused, and the
// ack must stay small whatever the agent sent.
func AckReason(s string) string { return cutText(s, MaxTextLen) }

// cutText removes NULs and cuts s to at most max bytes on a character
// boundary (a rune cut in two is invalid UTF-8 and goes).
func cutText(s string, max int) string {
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "")
}

func outOfPercent(p *int) bool { return p != nil && (*p < 0 || *p > 100) }
