package fleetsim

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

var start = time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)

func TestBatchesDecodeAndMatchExpected(t *testing.T) {
	f, err := New(Config{Agents: 3, DevicesPerAgent: 6, Rounds: 5, AgentPrefix: "fs-", Start: start, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	batches := f.Batches()
	if len(batches) != 15 {
		t.Fatalf("%d batches, want 3 agents × 5 rounds", len(batches))
	}
	expected := f.Expected()
	if len(expected) != f.TotalReads() || f.TotalReads() != 90 {
		t.Fatalf("%d expected reads, TotalReads %d, want 90", len(expected), f.TotalReads())
	}
	type key struct {
		serial string
		at     time.Time
	}
	seen := map[key]bool{}
	last := map[string]int64{} // serial → total of the previous round
	var bytes, reads int
	i := 0
	for _, b := range batches {
		rb, _, err := wire.DecodeReadBatch(b.Payload, start.Add(10*time.Hour))
		if err != nil {
			t.Fatalf("batch %s/%d does not decode: %v", b.AgentID, b.Seq, err)
		}
		if rb.AgentID != b.AgentID || rb.Sequence != b.Seq || b.Seq != uint64(b.Round)+1 || len(rb.Reads) != b.Reads || b.Reads != 6 {
			t.Fatalf("batch header %+v decodes to agent %s seq %d with %d reads", b, rb.AgentID, rb.Sequence, len(rb.Reads))
		}
		bytes += len(b.Payload)
		reads += b.Reads
		for _, r := range rb.Reads {
			want := expected[i]
			i++
			total, _ := r.Counter(domain.CounterTotal)
			black, _ := r.Counter(domain.CounterBlack)
			colour, _ := r.Counter(domain.CounterColour)
			got := Read{AgentID: rb.AgentID, Seq: rb.Sequence, Serial: r.Serial, ReadAt: r.ReadAt, Total: total, Black: black, Colour: colour}
			if !got.ReadAt.Equal(want.ReadAt) {
				t.Fatalf("read time %s, want %s", got.ReadAt, want.ReadAt)
			}
			got.ReadAt = want.ReadAt
			if got != want {
				t.Fatalf("read %d = %+v, Expected says %+v", i, got, want)
			}
			if total != black+colour || r.Serial == "" || r.MAC == "" || r.Vendor == "" || r.Model == "" ||
				!strings.HasPrefix(r.Address, "127.0.") || len(r.Supplies) != 8 || r.Status == nil {
				t.Fatalf("read of %s is not a complete colour MFP read: %+v", r.Serial, r)
			}
			for _, s := range r.Supplies {
				if s.Level == nil || s.Capacity == nil || s.State == "" {
					t.Fatalf("supply %d of %s lacks its level, capacity or state", s.Index, r.Serial)
				}
			}
			k := key{r.Serial, r.ReadAt}
			if seen[k] {
				t.Fatalf("device %s read twice at %s", r.Serial, r.ReadAt)
			}
			seen[k] = true
			if prev, ok := last[r.Serial]; ok && total <= prev {
				t.Fatalf("total of %s went from %d to %d", r.Serial, prev, total)
			}
			last[r.Serial] = total
		}
	}
	if len(last) != 18 {
		t.Errorf("%d distinct devices, want 3 agents × 6", len(last))
	}
	// The agent's reads of colour MFPs are 1.6 to 2.9 KB of JSON.
	if per := bytes / reads; per < 1500 || per > 3000 {
		t.Errorf("%d bytes per read, want a colour MFP's 1,500-3,000", per)
	}
	t.Logf("%d bytes per read", bytes/reads)
}

func TestConfigDefaultsAndRefusals(t *testing.T) {
	f, err := New(Config{Rounds: 2, DevicesPerAgent: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := f.Config()
	if c.Agents != DefaultAgents || c.InFlight != DefaultInFlight || c.AckTimeout != DefaultAckTimeout ||
		c.Interval != DefaultInterval || c.AgentPrefix != DefaultAgentPrefix {
		t.Errorf("defaults not applied: %+v", c)
	}
	if last := readAt(c, c.Rounds-1, 1); last.After(time.Now()) {
		t.Errorf("default start puts the last round at %s, in the future", last)
	}
	if ids := f.AgentIDs(); ids[0] != "fleetsim-0001" || len(ids) != DefaultAgents {
		t.Errorf("agent ids %v", ids)
	}

	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"negative agents", Config{Agents: -1}},
		{"prefix with a slash", Config{AgentPrefix: "a/b"}},
		{"reads in the future", Config{Start: time.Now().Add(48 * time.Hour)}},
		{"reads before 2000", Config{Start: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"batch over the payload limit", Config{Agents: 1, Rounds: 1, DevicesPerAgent: 2000, Start: start}},
		{"negative in flight", Config{InFlight: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Errorf("New(%+v) = nil error", tc.cfg)
			}
		})
	}
}

// TestRunAgainstBroker runs a small fleet through a real broker with a fake
// collector that acknowledges every batch, except the first delivery of
// one, which the fleet must send again.
func TestRunAgainstBroker(t *testing.T) {
	url := os.Getenv("METERLINE_TEST_MQTT_URL")
	if url == "" {
		t.Skip("METERLINE_TEST_MQTT_URL is not set: set it to an MQTT broker such as tcp://127.0.0.1:1883 to run a fleet through it")
	}
	prefix := fmt.Sprintf("fstest-%d-%d-", os.Getpid(), time.Now().UnixNano()%1e9)
	f, err := New(Config{BrokerURL: url, Agents: 3, DevicesPerAgent: 2, Rounds: 5, AgentPrefix: prefix,
		Start: start, Interval: time.Hour, AckTimeout: 300 * time.Millisecond, InFlight: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	foreign := fakeCollector(t, url, prefix, prefix+"0001", 1)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := f.RunRounds(ctx, 2)
	if err != nil {
		t.Fatalf("RunRounds(2): %v", err)
	}
	if res.Batches != 6 || res.Reads != 12 || res.FirstPublish.IsZero() || res.Duration <= 0 || res.ReadsPerSecond <= 0 {
		t.Errorf("RunRounds(2) = %+v, want 6 batches, 12 reads, a duration and a rate", res)
	}
	if p := f.Progress(); p.AckedBatches != 6 || p.TotalBatches != 15 {
		t.Errorf("progress after 2 rounds = %+v", p)
	}
	res, err = f.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Batches != 9 || res.Reads != 18 {
		t.Errorf("Run after 2 rounds = %+v, want the other 9 batches, 18 reads", res)
	}
	p := f.Progress()
	if p.AckedBatches != 15 || p.AckedReads != 30 {
		t.Errorf("progress = %+v, want every batch acknowledged", p)
	}
	t.Logf("progress %+v; acknowledgements from another collector: %d", p, foreign.Load())
	// A collector of a test running beside this one may acknowledge the
	// dropped batch first (it subscribes to every agent's reads).
	if p.Resent == 0 && foreign.Load() == 0 {
		t.Errorf("progress = %+v: the batch whose first delivery was dropped was not sent again", p)
	}
	if res, err := f.Run(ctx); err != nil || res.Published != 0 {
		t.Errorf("Run once all is acknowledged = %+v, %v; want nothing published", res, err)
	}
}

// ackMarker stamps the fake collector's acknowledgements, to tell them
// from those of a real collector sharing the broker.
var ackMarker = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeCollector acknowledges every read batch of the agents whose id
// starts with prefix, except the first delivery of batch dropSeq of agent
// drop. It returns a count of acknowledgements it did not send.
func fakeCollector(t *testing.T, url, prefix, drop string, dropSeq uint64) *atomic.Int64 {
	t.Helper()
	var foreign atomic.Int64
	var mu sync.Mutex
	dropped := false
	opts := paho.NewClientOptions().AddBroker(url).SetClientID(prefix + "collector").
		SetProtocolVersion(4).SetCleanSession(true).SetOrderMatters(false)
	c := paho.NewClient(opts)
	if err := waitToken(c.Connect()); err != nil {
		t.Fatalf("fake collector: connect: %v", err)
	}
	t.Cleanup(func() { c.Disconnect(100) })
	onReads := func(c paho.Client, m paho.Message) {
		agentID, _, err := topic.Parse(m.Topic())
		if err != nil || !strings.HasPrefix(agentID, prefix) {
			return
		}
		rb, _, err := wire.DecodeReadBatch(m.Payload(), time.Now())
		if err != nil {
			t.Errorf("fake collector: batch on %s: %v", m.Topic(), err)
			return
		}
		mu.Lock()
		skip := agentID == drop && rb.Sequence == dropSeq && !dropped
		dropped = dropped || skip
		mu.Unlock()
		if skip {
			return
		}
		ack, _ := wire.Encode(wire.Ack{Schema: wire.SchemaVersion, AgentID: agentID, Sequences: []uint64{rb.Sequence}, At: ackMarker})
		c.Publish(topic.For(agentID, topic.Acks), 1, false, ack)
	}
	onAcks := func(_ paho.Client, m paho.Message) {
		agentID, _, err := topic.Parse(m.Topic())
		if err != nil || !strings.HasPrefix(agentID, prefix) {
			return
		}
		if ack, err := wire.DecodeAck(m.Payload()); err == nil && !ack.At.Equal(ackMarker) {
			foreign.Add(1)
		}
	}
	for filter, handler := range map[string]paho.MessageHandler{
		topic.Prefix + "+/reads": onReads,
		topic.Prefix + "+/acks":  onAcks,
	} {
		if err := waitToken(c.Subscribe(filter, 1, handler)); err != nil {
			t.Fatalf("fake collector: subscribe %s: %v", filter, err)
		}
	}
	return &foreign
}
