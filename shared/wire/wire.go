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

// MaxFutureSkew is how far in the future a read time may lie before it is
// rejected: agent clocks drift, but not by days.
const MaxFutureSkew = 24 * time.Hour

// ReadBatch is what an agent publishes on its reads topic: the reads of one
// poll round. AgentID + Sequence is the batch's idempotency key.
type ReadBatch struct {
	Schema   int          `json:"schema"`
	AgentID  string       `json:"agent_id"`
	Sequence uint64       `json:"seq"`
	SentAt   time.Time    `json:"sent_at"`
	Reads    []DeviceRead `json:"reads"`
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
	Supplies []Supply  `json:"supplies,omitempty"`
	Status   *Status   `json:"status,omitempty"`
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

// Ack is what a collector publishes on an agent's acks topic once the
// batches with these sequence numbers are committed to its database.
type Ack struct {
	Schema    int       `json:"schema"`
	AgentID   string    `json:"agent_id"`
	Sequences []uint64  `json:"seqs"`
	At        time.Time `json:"at"`
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
