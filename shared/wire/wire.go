// Package wire is the v1 MQTT payload format between agents and collectors.
//
// Payloads are JSON. Each carries a schema version; a decoder accepts the
// versions it knows and ignores fields it does not (an agent in the field
// may be newer than the collector), so fields are only ever added within a
// version. Unknown values are absent, never zero.
package wire

import (
	"time"

	"github.com/meterline/meterline/shared/domain"
)

// SchemaVersion is the version of every payload this package writes.
const SchemaVersion = 1

// MaxPayloadBytes bounds every payload a decoder accepts. A read batch of a
// few hundred colour MFPs stays well under it.
const MaxPayloadBytes = 1 << 20

// MaxFutureSkew is how far in the future a read time may lie before the
// read is refused: agent clocks drift, but not by days.
const MaxFutureSkew = 24 * time.Hour

// ReadBatch is what an agent publishes on its reads topic: the reads of one
// poll round. AgentID + Sequence + BatchKey is the batch's idempotency key.
type ReadBatch struct {
	Schema   int    `json:"schema"`
	AgentID  string `json:"agent_id"`
	Sequence uint64 `json:"seq"`
	// BatchID is drawn at random by the agent's outbox when it stores the
	// batch, so that a sequence number that repeats (a reinstall, a clock
	// without battery) never passes for a batch already stored. Letters,
	// digits, '.', '_' and '-', at most MaxBatchIDLen.
	BatchID string       `json:"batch_id,omitempty"`
	SentAt  time.Time    `json:"sent_at"`
	Reads   []DeviceRead `json:"reads"`
}

// DeviceRead is one read of one printer.
type DeviceRead struct {
	// Identity. Serial is the device's serial number, when it reports one.
	Serial   string `json:"serial,omitempty"`
	MAC      string `json:"mac,omitempty"`
	Vendor   string `json:"vendor,omitempty"`
	Model    string `json:"model,omitempty"`
	Firmware string `json:"firmware,omitempty"`
	// Address is where the agent reached the device (host or host:port).
	Address string `json:"address"`
	// ReadAt is when the agent read the device, UTC. Replays keep it.
	ReadAt   time.Time `json:"read_at"`
	Counters []Counter `json:"counters,omitempty"`
	// Unreported lists the billing meters (black; colour on a device not
	// known to be mono) the device does not report: the model exposes no
	// such meter, so it must be read by hand. Optional: agents before it
	// send none, and a read without it says nothing either way.
	Unreported []domain.CounterKind `json:"unreported,omitempty"`
	Supplies   []Supply             `json:"supplies,omitempty"`
	Status     *Status              `json:"status,omitempty"`
}

// Counter is one page meter.
type Counter struct {
	Kind  domain.CounterKind `json:"kind"`
	Value int64              `json:"value"`
	Unit  domain.CounterUnit `json:"unit,omitempty"`
	// Source names where the value came from (a MIB object or a vendor
	// profile entry), so a disputed meter can be traced.
	Source string `json:"source,omitempty"`
}

// Supply is one consumable or receptacle of the device.
type Supply struct {
	Index       int               `json:"index"`
	Description string            `json:"description,omitempty"`
	Kind        domain.SupplyKind `json:"kind"`
	Colour      string            `json:"colour,omitempty"`
	PartNumber  string            `json:"part_number,omitempty"`
	// Level and Capacity are the raw values the device reported, special
	// values included; State says how to read them.
	Level    *int64            `json:"level,omitempty"`
	Capacity *int64            `json:"capacity,omitempty"`
	Unit     string            `json:"unit,omitempty"`
	State    domain.LevelState `json:"state"`
	// Receptacle is true for what fills up (waste toner): its Printer-MIB
	// level is the space left, and FullPercent is how full it is.
	Receptacle bool `json:"receptacle,omitempty"`
	// Percent is the share remaining of a consumable, 0..100, present only
	// when the device gave a level and a capacity to compute it from.
	Percent *int `json:"percent,omitempty"`
	// FullPercent is how full a receptacle is, 0..100, under the same rule.
	FullPercent *int `json:"full_percent,omitempty"`
}

// Status is the device's state and the conditions it reports.
type Status struct {
	Device     domain.DeviceState  `json:"device,omitempty"`
	Printer    domain.PrinterState `json:"printer,omitempty"`
	Conditions []domain.Condition  `json:"conditions,omitempty"`
}

// AgentStatus is an agent's retained status; its Last Will is the same
// payload with State offline.
type AgentStatus struct {
	Schema        int               `json:"schema"`
	AgentID       string            `json:"agent_id"`
	State         domain.AgentState `json:"state"`
	Version       string            `json:"version,omitempty"`
	StartedAt     time.Time         `json:"started_at,omitzero"`
	At            time.Time         `json:"at,omitzero"`
	DevicesPolled int               `json:"devices_polled,omitempty"`
	OutboxDepth   int               `json:"outbox_depth,omitempty"`
	OutboxDropped uint64            `json:"outbox_dropped,omitempty"`
	// ReadsCleaned counts the reads the agent had to clean before storing
	// them (DeviceRead.Clean: a field dropped or cut), since it was
	// installed.
	ReadsCleaned uint64 `json:"reads_cleaned,omitempty"`
	// ReadsRefused and BatchesRefused count what the collector's acks said
	// it refused: single reads, and batches refused whole.
	ReadsRefused   uint64 `json:"reads_refused,omitempty"`
	BatchesRefused uint64 `json:"batches_refused,omitempty"`
	// ConfigRefused lists what the agent refused of the configuration the
	// collector sent (a target outside the ranges its own file allows),
	// one reason each.
	ConfigRefused []string `json:"config_refused,omitempty"`
}

// Event is one alert raised by an agent. AgentID + ID is its idempotency key.
type Event struct {
	Schema   int              `json:"schema"`
	AgentID  string           `json:"agent_id"`
	ID       string           `json:"id"`
	At       time.Time        `json:"at"`
	Kind     domain.EventKind `json:"kind"`
	Serial   string           `json:"serial,omitempty"`
	Address  string           `json:"address,omitempty"`
	Message  string           `json:"message,omitempty"`
	Supply   *Supply          `json:"supply,omitempty"`
	Previous *int64           `json:"previous,omitempty"`
	Current  *int64           `json:"current,omitempty"`
}

// Ack is what a collector publishes on an agent's acks topic once batches
// are settled: their reads committed to its database, or refused (stored
// in its dead letters). Either way the agent deletes them from its outbox.
type Ack struct {
	Schema  int    `json:"schema"`
	AgentID string `json:"agent_id"`
	// Sequences lists the sequence number of every settled batch, for the
	// agents that predate Batches.
	Sequences []uint64 `json:"seqs"`
	// Batches settles each batch by sequence and BatchID, and tells which
	// of its reads were refused.
	Batches []BatchAck `json:"batches,omitempty"`
	At      time.Time  `json:"at"`
}

// BatchAck settles one read batch.
type BatchAck struct {
	Seq     uint64 `json:"seq"`
	BatchID string `json:"batch_id,omitempty"`
	// Refused lists the reads the collector refused, by their index in the
	// batch; the other reads are stored.
	Refused []RefusedRead `json:"refused,omitempty"`
	// Rejected, when set, says why the batch was refused whole (none of its
	// reads is stored).
	Rejected string `json:"rejected,omitempty"`
}

// RefusedRead is a read the collector refused, and why. Raw holds its
// JSON for the collector's dead letters; it is not sent.
type RefusedRead struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
	Raw    []byte `json:"-"`
}

// AgentConfig is the retained configuration a collector publishes for an
// agent. Only what the collector may change is here; credentials and the
// broker address stay in the agent's own file.
type AgentConfig struct {
	Schema            int      `json:"schema"`
	PollInterval      string   `json:"poll_interval,omitempty"`
	DiscoveryInterval string   `json:"discovery_interval,omitempty"`
	Targets           []string `json:"targets,omitempty"`
	Ranges            []string `json:"ranges,omitempty"`
	Credentials       []string `json:"credentials,omitempty"`
}

// Command is an order to an agent.
type Command struct {
	Schema int                `json:"schema"`
	ID     string             `json:"id"`
	Name   domain.CommandName `json:"name"`
	At     time.Time          `json:"at"`
}
