// Package fleetsim simulates a fleet of Meterline agents for end-to-end
// tests and benchmarks: K agents, each publishing numbered read batches of
// its own colour MFPs through a real MQTT broker, as meterline-agent does,
// and waiting for the collector's acknowledgements (DESIGN.md §3).
//
// New builds and encodes every batch before anything is timed, so the
// generator's JSON cost is never measured. Run (or RunRounds, in steps)
// connects one MQTT client per agent, subscribes it to the agent's acks
// topic, publishes the agent's batches at QoS 1 with at most InFlight
// unacknowledged at once, re-sends a batch not acknowledged within
// AckTimeout (doubling the wait on each re-send, up to 8 × AckTimeout, as
// the agent backs off), and returns once every batch is acknowledged. The
// collector acknowledges after its database commit, so the time from the
// first publish to the last acknowledgement is the end-to-end ingest time.
//
// The data is deterministic, so a test can compare the database with
// Expected:
//   - agent i (from 1) is AgentPrefix followed by i in 4 digits
//     ("fleetsim-0001"); its MQTT client id is the agent id;
//   - the batch of round r (from 0) has the sequence number r+1 and holds
//     one read of each of the agent's DevicesPerAgent devices;
//   - device d (from 1) of an agent has the serial AGENT-ID-Dd in upper
//     case with d in 4 digits ("FLEETSIM-0001-D0042"), a locally
//     administered MAC, the address 127.0.x.y:161, and one of four colour
//     MFP models (Xerox, Ricoh, HP, Canon), with total, black and colour
//     counters and eight supplies, shaped like what the agent reads from
//     the recorded printers of printersim (about 2 KB of JSON per read);
//   - its read of round r is at Start + r×Interval + (d-1)×10ms, so every
//     (device, read time) is unique; its counters grow every round and its
//     supplies deplete, and are replaced when empty.
//
// To act mid-stream (kill a collector, restart the broker), a test runs
// RunRounds step by step, or runs Run in a goroutine and polls Progress.
// Runs are serialised; Progress may be called at any time, from any
// goroutine. Run returns an error wrapping ErrIncomplete (and the context's
// error) when ctx ends before every batch is acknowledged.
//
// One difference with the agent: InFlight bounds the batches not yet
// acknowledged by the collector, where the agent's MaxInFlight bounds those
// not yet acknowledged by the broker (PUBACK), so a real agent with a
// backlog keeps publishing while the collector is slow.
package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// Defaults of the zero Config fields.
const (
	DefaultAgents          = 10
	DefaultDevicesPerAgent = 100
	DefaultRounds          = 10
	DefaultAgentPrefix     = "fleetsim-"
	DefaultInterval        = 15 * time.Minute
	// DefaultAckTimeout is the agent's own default.
	DefaultAckTimeout = 60 * time.Second
	// DefaultInFlight is the size of the agent's default window.
	DefaultInFlight = 16
)

// Config describes a fleet. Zero fields take the defaults above.
type Config struct {
	// BrokerURL is the MQTT broker, tcp://host:port. Only Run needs it.
	BrokerURL string
	// Username, when set, is what every agent logs in as. When it is
	// empty and Password is set, each agent logs in as its agent id (the
	// per-agent credentials a production broker uses).
	Username string
	Password string

	Agents          int
	DevicesPerAgent int
	// Rounds is how many batches each agent publishes.
	Rounds      int
	AgentPrefix string
	// Start is the read time of round 0, truncated to the second; zero
	// means Rounds × Interval before now, so the last round is read about
	// now. Read times may not lie more than wire.MaxFutureSkew ahead.
	Start time.Time
	// Interval spaces the read times of successive rounds, truncated to
	// the millisecond.
	Interval time.Duration
	// AckTimeout is how long a published batch waits for its
	// acknowledgement before it is sent again.
	AckTimeout time.Duration
	// InFlight bounds the batches an agent has published and not yet seen
	// acknowledged.
	InFlight int

	// Logger receives connection events and re-sends; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults(now time.Time) Config {
	if c.Agents == 0 {
		c.Agents = DefaultAgents
	}
	if c.DevicesPerAgent == 0 {
		c.DevicesPerAgent = DefaultDevicesPerAgent
	}
	if c.Rounds == 0 {
		c.Rounds = DefaultRounds
	}
	if c.AgentPrefix == "" {
		c.AgentPrefix = DefaultAgentPrefix
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	c.Interval = c.Interval.Truncate(time.Millisecond)
	if c.Start.IsZero() {
		c.Start = now.Add(-time.Duration(c.Rounds) * c.Interval)
	}
	c.Start = c.Start.UTC().Truncate(time.Second)
	if c.AckTimeout == 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.InFlight == 0 {
		c.InFlight = DefaultInFlight
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate(now time.Time) error {
	switch {
	case c.Agents < 1 || c.Agents > 9999:
		return fmt.Errorf("fleetsim: %d agents: want 1 to 9999", c.Agents)
	case c.DevicesPerAgent < 1 || c.DevicesPerAgent > 9999:
		return fmt.Errorf("fleetsim: %d devices per agent: want 1 to 9999", c.DevicesPerAgent)
	case c.Rounds < 1:
		return fmt.Errorf("fleetsim: %d rounds: want at least 1", c.Rounds)
	case c.Interval <= 0:
		return fmt.Errorf("fleetsim: interval %s: want at least 1ms", c.Interval)
	case c.AckTimeout < 0:
		return fmt.Errorf("fleetsim: negative ack timeout %s", c.AckTimeout)
	case c.InFlight < 1:
		return fmt.Errorf("fleetsim: %d batches in flight: want at least 1", c.InFlight)
	case !topic.ValidAgentID(agentID(c.AgentPrefix, c.Agents)):
		return fmt.Errorf("fleetsim: agent prefix %q does not make valid agent ids", c.AgentPrefix)
	}
	last := readAt(c, c.Rounds-1, c.DevicesPerAgent)
	if limit := now.Add(wire.MaxFutureSkew); last.After(limit) {
		return fmt.Errorf("fleetsim: the last read time %s is beyond %s, which the collector refuses",
			last.Format(time.RFC3339), limit.Format(time.RFC3339))
	}
	if c.Start.Year() < 2000 {
		return fmt.Errorf("fleetsim: start %s is before 2000, which the collector refuses", c.Start.Format(time.RFC3339))
	}
	return nil
}

// Batch is one read batch, encoded as the agent publishes it.
type Batch struct {
	AgentID string
	Seq     uint64
	// Round is the batch's round, from 0; Seq is Round+1.
	Round int
	// Reads is the number of device reads in the batch.
	Reads int
	// Payload is the JSON the agent publishes on its reads topic.
	Payload []byte
}

// Read identifies one device read the fleet publishes: what the collector
// stores as one meter_reads row.
type Read struct {
	AgentID string
	Seq     uint64
	// Serial is the device's serial number as the agent reports it (the
	// collector keys the device as "sn:" + Serial).
	Serial string
	ReadAt time.Time
	// Total, Black and Colour are the read's counters.
	Total, Black, Colour int64
}

// Result is the outcome of one Run or RunRounds.
type Result struct {
	// Batches and Reads count what was acknowledged for the first time
	// during the run.
	Batches int
	Reads   int
	// Published counts every publish, re-sends included; Resent only the
	// re-sends after AckTimeout.
	Published int
	Resent    int
	// Bytes is the payload bytes published, re-sends included.
	Bytes int64
	// FirstPublish is when the run published its first batch, LastAck when
	// it received the acknowledgement that completed it (or the last one
	// before it ended). Duration lies between them.
	FirstPublish time.Time
	LastAck      time.Time
	Duration     time.Duration
	// ReadsPerSecond is Reads / Duration: the end-to-end ingest rate.
	ReadsPerSecond float64
}

// Progress is what the fleet has done since New, across runs.
type Progress struct {
	Published    int
	Resent       int
	AckedBatches int
	AckedReads   int
	// TotalBatches is Agents × Rounds.
	TotalBatches int
}

// Fleet is a simulated fleet of agents.
type Fleet struct {
	cfg    Config
	agents []*agent

	runMu     sync.Mutex // one run at a time
	connected bool
	doneTo    int // rounds [0, doneTo) have been asked for by past runs

	mu        sync.Mutex // guards the counters below and each agent's acked
	published int
	resent    int
	ackedB    int
	ackedR    int
	step      *step // the run in progress, if any
}

// agent is one simulated agent: its batches and its MQTT client.
type agent struct {
	id      string
	batches []Batch
	acked   []bool // by round; guarded by Fleet.mu
	wake    chan struct{}
	// client and readsTopic are set by connect.
	client     paho.Client
	readsTopic string
}

// New builds and encodes every batch of the fleet described by cfg.
func New(cfg Config) (*Fleet, error) {
	now := time.Now()
	cfg = cfg.withDefaults(now)
	if err := cfg.validate(now); err != nil {
		return nil, err
	}
	f := &Fleet{cfg: cfg, agents: make([]*agent, cfg.Agents)}
	for i := range f.agents {
		f.agents[i] = &agent{
			id:      agentID(cfg.AgentPrefix, i+1),
			batches: make([]Batch, cfg.Rounds),
			acked:   make([]bool, cfg.Rounds),
			wake:    make(chan struct{}, 1),
		}
	}
	if err := f.encodeAll(); err != nil {
		return nil, err
	}
	return f, nil
}

// encodeAll encodes every batch, on every CPU.
func (f *Fleet) encodeAll() error {
	type job struct{ agent, round int }
	jobs := make(chan job)
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range jobs {
				b, err := wire.Encode(f.ReadBatch(j.agent, j.round))
				if err == nil && len(b) > wire.MaxPayloadBytes {
					err = fmt.Errorf("fleetsim: a batch of %d reads is %d bytes, over the collector's %d byte limit: use fewer devices per agent",
						f.cfg.DevicesPerAgent, len(b), wire.MaxPayloadBytes)
				}
				if err != nil {
					errMu.Lock()
					firstErr = cmpErr(firstErr, err)
					errMu.Unlock()
					continue
				}
				a := f.agents[j.agent]
				a.batches[j.round] = Batch{AgentID: a.id, Seq: uint64(j.round) + 1, Round: j.round, Reads: f.cfg.DevicesPerAgent, Payload: b} //nolint:gosec // rounds count up from 0
			}
		})
	}
	for a := range f.agents {
		for r := range f.cfg.Rounds {
			jobs <- job{a, r}
		}
	}
	close(jobs)
	wg.Wait()
	return firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// Config returns the fleet's configuration, defaults applied.
func (f *Fleet) Config() Config { return f.cfg }

// AgentIDs returns the agents' ids, in order.
func (f *Fleet) AgentIDs() []string {
	ids := make([]string, len(f.agents))
	for i, a := range f.agents {
		ids[i] = a.id
	}
	return ids
}

// Batches returns every batch, agent by agent, each agent's in round
// order. The payloads are shared with the fleet: do not modify them.
func (f *Fleet) Batches() []Batch {
	out := make([]Batch, 0, len(f.agents)*f.cfg.Rounds)
	for _, a := range f.agents {
		out = append(out, a.batches...)
	}
	return out
}

// TotalReads is the number of reads of every batch: Agents ×
// DevicesPerAgent × Rounds.
func (f *Fleet) TotalReads() int {
	return f.cfg.Agents * f.cfg.DevicesPerAgent * f.cfg.Rounds
}

// Expected returns every read the fleet publishes, agent by agent, round
// by round, device by device.
func (f *Fleet) Expected() []Read {
	out := make([]Read, 0, f.TotalReads())
	for a := range f.agents {
		for r := range f.cfg.Rounds {
			for d := 1; d <= f.cfg.DevicesPerAgent; d++ {
				dev := f.device(a, d)
				black, colour := dev.counters(r)
				out = append(out, Read{
					AgentID: f.agents[a].id, Seq: uint64(r) + 1, Serial: dev.serial,
					ReadAt: readAt(f.cfg, r, d), Total: black + colour, Black: black, Colour: colour,
				})
			}
		}
	}
	return out
}

// Progress returns what the fleet has done so far.
func (f *Fleet) Progress() Progress {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Progress{
		Published: f.published, Resent: f.resent,
		AckedBatches: f.ackedB, AckedReads: f.ackedR,
		TotalBatches: len(f.agents) * f.cfg.Rounds,
	}
}

// Run publishes every batch not yet acknowledged and returns when all are
// acknowledged, or with an error when ctx ends first. Run after a Run
// that completed publishes nothing and returns a zero Result.
func (f *Fleet) Run(ctx context.Context) (Result, error) {
	return f.run(ctx, f.cfg.Rounds)
}

// RunRounds publishes the next n rounds of every agent (and any batch of
// an earlier round still unacknowledged) and returns when all of them are
// acknowledged: a test can run a few rounds, stop or restart the
// collector, and run the next ones. n past the last round is cut to it.
func (f *Fleet) RunRounds(ctx context.Context, n int) (Result, error) {
	if n < 0 {
		return Result{}, fmt.Errorf("fleetsim: run %d rounds: want 0 or more", n)
	}
	f.runMu.Lock()
	upTo := min(f.doneTo+n, f.cfg.Rounds)
	f.runMu.Unlock()
	return f.run(ctx, upTo)
}

// Connect connects every agent to the broker and subscribes it to its acks
// topic. Run connects by itself; Connect keeps the connection time out of a
// measurement, or lets a test see the fleet connected before it acts.
func (f *Fleet) Connect(ctx context.Context) error {
	f.runMu.Lock()
	defer f.runMu.Unlock()
	return f.connect(ctx)
}

// Close disconnects every agent. The fleet can run again afterwards (it
// reconnects).
func (f *Fleet) Close() {
	f.runMu.Lock()
	defer f.runMu.Unlock()
	f.disconnect()
}

// agentID names agent i (from 1).
func agentID(prefix string, i int) string { return fmt.Sprintf("%s%04d", prefix, i) }

// readAt is the read time of device d (from 1) in round r.
func readAt(c Config, r, d int) time.Time {
	return c.Start.Add(time.Duration(r)*c.Interval + time.Duration(d-1)*10*time.Millisecond)
}

// ErrIncomplete is wrapped by the error of a run that ended before every
// batch was acknowledged.
var ErrIncomplete = errors.New("fleetsim: not every batch was acknowledged")
