package wire

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/topic"
)

// Encode marshals a payload, stamping nothing: the caller sets Schema (the
// New… constructors do).
func Encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return b, nil
}

// versioned is a payload type: it tells the schema version it was
// decoded with.
type versioned interface{ schemaVersion() int }

func (rb *ReadBatch) schemaVersion() int  { return rb.Schema }
func (s *AgentStatus) schemaVersion() int { return s.Schema }
func (e *Event) schemaVersion() int       { return e.Schema }
func (a *Ack) schemaVersion() int         { return a.Schema }
func (c *AgentConfig) schemaVersion() int { return c.Schema }
func (c *Command) schemaVersion() int     { return c.Schema }

// decode checks the size and schema version of a payload and unmarshals it.
// Unknown fields are ignored: a newer agent may add some.
//
// A good payload is parsed once: the collector decodes every read of the
// fleet, and this is its costliest step. Only a payload that fails is
// parsed again, for its version alone, to say why: a payload of another
// version may not even have this one's shape, and "version 2 is not
// supported" is the useful error then.
func decode(b []byte, v versioned) error { return Codec{}.decode(b, v) }

// Codec decodes payloads with the JSON parser it is given. The package's
// Decode functions use encoding/json; a program that decodes every read of
// a fleet (the collector) can hand the same checks a faster parser, and
// this package stays free of dependencies.
type Codec struct {
	// Unmarshal parses JSON as encoding/json.Unmarshal does, honouring
	// struct tags and json.Unmarshaler; nil means encoding/json's.
	Unmarshal func(data []byte, v any) error
}

func (c Codec) unmarshal(b []byte, v any) error {
	if c.Unmarshal == nil {
		return json.Unmarshal(b, v)
	}
	return c.Unmarshal(b, v)
}

func (c Codec) decode(b []byte, v versioned) error {
	if len(b) > MaxPayloadBytes {
		return domain.Errorf(domain.ETOOLARGE, "payload of %d bytes is over the %d byte limit", len(b), MaxPayloadBytes)
	}
	err := c.unmarshal(b, v)
	if err == nil && v.schemaVersion() == SchemaVersion {
		return nil
	}
	var head struct {
		Schema *int `json:"schema"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return domain.Errorf(domain.EINVALID, "not a JSON object: %v", err)
	}
	if head.Schema == nil {
		return domain.Errorf(domain.ESCHEMA, "no schema version")
	}
	if *head.Schema != SchemaVersion {
		return domain.Errorf(domain.ESCHEMA, "schema version %d is not supported (want %d)", *head.Schema, SchemaVersion)
	}
	return domain.Errorf(domain.EINVALID, "malformed payload: %v", err)
}

// DecodeReadBatch decodes a read batch and validates it read by read: the
// batch's Reads are those that pass, and refused lists the others with
// their index in the payload, why, and their JSON. now bounds read times
// from above (see MaxFutureSkew). An error refuses the batch whole (not a
// JSON object, another version, no agent id or sequence); it is a
// *domain.Error whose code says why.
func DecodeReadBatch(b []byte, now time.Time) (rb ReadBatch, refused []RefusedRead, err error) {
	return Codec{}.DecodeReadBatch(b, now)
}

// DecodeReadBatch is the package's DecodeReadBatch with c's parser.
func (c Codec) DecodeReadBatch(b []byte, now time.Time) (ReadBatch, []RefusedRead, error) {
	var rb ReadBatch
	var refused []RefusedRead
	if err := c.decode(b, &rb); err != nil {
		// One read of the wrong shape fails the whole parse: parse again
		// read by read, so that it costs only itself.
		var byRead struct {
			ReadBatch
			Reads []json.RawMessage `json:"reads"`
		}
		if domain.ErrorCode(err) != domain.EINVALID || c.unmarshal(b, &byRead) != nil {
			return ReadBatch{}, nil, err
		}
		rb = byRead.ReadBatch
		rb.Reads = make([]DeviceRead, 0, len(byRead.Reads))
		for i, raw := range byRead.Reads {
			var r DeviceRead
			if err := c.unmarshal(raw, &r); err != nil {
				refused = append(refused, RefusedRead{Index: i, Reason: AckReason("malformed read: " + err.Error()), Raw: raw})
				r = DeviceRead{} // a placeholder, dropped below
			}
			rb.Reads = append(rb.Reads, r)
		}
	}
	if err := rb.validateBatch(); err != nil {
		return ReadBatch{}, nil, err
	}
	kept := rb.Reads[:0]
	next := 0 // the next refused read found by the parse
	for i, r := range rb.Reads {
		if next < len(refused) && refused[next].Index == i {
			next++
			continue
		}
		if err := r.Validate(now); err != nil {
			raw, _ := json.Marshal(r)
			refused = append(refused, RefusedRead{Index: i, Reason: AckReason(domain.ErrorMessage(err)), Raw: raw})
			continue
		}
		kept = append(kept, r)
	}
	rb.Reads = kept
	sort.Slice(refused, func(i, j int) bool { return refused[i].Index < refused[j].Index })
	return rb, refused, nil
}

// BatchHead is what identifies a read batch, read from a payload that may
// be refused: enough to settle it with its agent.
type BatchHead struct {
	AgentID  string `json:"agent_id"`
	Sequence uint64 `json:"seq"`
	BatchID  string `json:"batch_id"`
}

// PeekBatchHead reads the identity of a batch from a payload that
// DecodeReadBatch refused whole, so the collector can still settle it; ok
// is false when the payload does not say (not JSON, no agent id or
// sequence).
func PeekBatchHead(b []byte) (h BatchHead, ok bool) {
	if len(b) > MaxPayloadBytes || json.Unmarshal(b, &h) != nil {
		return BatchHead{}, false
	}
	rb := ReadBatch{AgentID: h.AgentID, Sequence: h.Sequence, BatchID: h.BatchID}
	if rb.validateBatch() != nil {
		return BatchHead{}, false
	}
	return h, true
}

// Validate checks the rules every stored batch meets: the batch's own,
// then every read's.
func (rb ReadBatch) Validate(now time.Time) error {
	if err := rb.validateBatch(); err != nil {
		return err
	}
	for i, r := range rb.Reads {
		if err := r.Validate(now); err != nil {
			return domain.Errorf(domain.EINVALID, "read %d: %s", i, domain.ErrorMessage(err))
		}
	}
	return nil
}

// DecodeAgentStatus decodes and validates an agent status.
func DecodeAgentStatus(b []byte) (AgentStatus, error) {
	var s AgentStatus
	if err := decode(b, &s); err != nil {
		return AgentStatus{}, err
	}
	if !topic.ValidAgentID(s.AgentID) {
		return AgentStatus{}, domain.Errorf(domain.EINVALID, "agent id %q is not valid", s.AgentID)
	}
	if s.State != domain.AgentOnline && s.State != domain.AgentOffline {
		return AgentStatus{}, domain.Errorf(domain.EINVALID, "agent state %q is not online or offline", s.State)
	}
	return s, nil
}

// DecodeEvent decodes and validates an event.
func DecodeEvent(b []byte) (Event, error) {
	var e Event
	if err := decode(b, &e); err != nil {
		return Event{}, err
	}
	switch {
	case !topic.ValidAgentID(e.AgentID):
		return Event{}, domain.Errorf(domain.EINVALID, "agent id %q is not valid", e.AgentID)
	case e.ID == "":
		return Event{}, domain.Errorf(domain.EINVALID, "event id missing")
	case e.Kind == "":
		return Event{}, domain.Errorf(domain.EINVALID, "event kind missing")
	case e.At.IsZero():
		return Event{}, domain.Errorf(domain.EINVALID, "event time missing")
	}
	return e, nil
}

// DecodeAck decodes an acknowledgement.
func DecodeAck(b []byte) (Ack, error) {
	var a Ack
	if err := decode(b, &a); err != nil {
		return Ack{}, err
	}
	return a, nil
}

// DecodeAgentConfig decodes a configuration pushed to an agent.
func DecodeAgentConfig(b []byte) (AgentConfig, error) {
	var c AgentConfig
	if err := decode(b, &c); err != nil {
		return AgentConfig{}, err
	}
	for _, d := range []string{c.PollInterval, c.DiscoveryInterval} {
		if d == "" {
			continue
		}
		if v, err := time.ParseDuration(d); err != nil || v <= 0 {
			return AgentConfig{}, domain.Errorf(domain.EINVALID, "interval %q is not a positive duration", d)
		}
	}
	return c, nil
}

// DecodeCommand decodes a command to an agent.
func DecodeCommand(b []byte) (Command, error) {
	var c Command
	if err := decode(b, &c); err != nil {
		return Command{}, err
	}
	switch c.Name {
	case domain.CommandPollNow, domain.CommandDiscoverNow:
		return c, nil
	default:
		return Command{}, domain.Errorf(domain.EINVALID, "unknown command %q", c.Name)
	}
}
