package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// brokerURL returns the test broker, or skips.
func brokerURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("METERLINE_TEST_MQTT_URL")
	if url == "" {
		t.Skip("METERLINE_TEST_MQTT_URL is not set: set it to an MQTT broker such as tcp://127.0.0.1:1883 (Mosquitto) to test publishing")
	}
	return url
}

// subscriber is a test MQTT client that collects messages per topic.
type subscriber struct {
	client mqtt.Client
}

func newSubscriber(t *testing.T, url string) *subscriber {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("meterline-test-sub-%d", time.Now().UnixNano())).SetOrderMatters(false)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &subscriber{client: c}
}

// subscribe delivers every message on topicName to the returned channel.
func (s *subscriber) subscribe(t *testing.T, topicName string) <-chan mqtt.Message {
	t.Helper()
	ch := make(chan mqtt.Message, 100)
	tok := s.client.Subscribe(topicName, 1, func(_ mqtt.Client, m mqtt.Message) { ch <- m })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", topicName, tok.Error())
	}
	return ch
}

func (s *subscriber) unsubscribe(t *testing.T, topicName string) {
	t.Helper()
	if tok := s.client.Unsubscribe(topicName); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("unsubscribe %s: %v", topicName, tok.Error())
	}
}

// next waits for the next message; the long bound only keeps a broken
// test from hanging.
func next(t *testing.T, ch <-chan mqtt.Message, what string) mqtt.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(60 * time.Second):
		t.Fatalf("no %s arrived", what)
		return nil
	}
}

// retainedStatus reads the agent's retained status by subscribing anew.
func (s *subscriber) retainedStatus(t *testing.T, agentID string) (wire.AgentStatus, bool) {
	t.Helper()
	statusTopic := topic.For(agentID, topic.Status)
	ch := s.subscribe(t, statusTopic)
	defer s.unsubscribe(t, statusTopic)
	m := next(t, ch, "retained status")
	st, err := wire.DecodeAgentStatus(m.Payload())
	if err != nil {
		t.Fatalf("status %s: %v", m.Payload(), err)
	}
	return st, m.Retained()
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

// TestRunPublishesToBroker runs the daemon against printersim and a real
// broker: read batches arrive with increasing sequence numbers, the
// retained status is online while it runs and offline after a clean stop.
func TestRunPublishesToBroker(t *testing.T) {
	url := brokerURL(t)
	fleet, _ := serveFleet(t)
	devices := fleet.Devices()
	agentID := fmt.Sprintf("test-agent-%d", time.Now().UnixNano())
	stateDir := filepath.Join(t.TempDir(), "state")
	cfg := fmt.Sprintf(`agent_id = %q
state_dir = %q
poll_interval = "1s"
targets = [%q, %q]
[mqtt]
url = %q
[snmp]
timeout = "2s"
`, agentID, stateDir, devices[0].Addr.String(), devices[1].Addr.String(), url)
	path := filepath.Join(t.TempDir(), "agent.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	sub := newSubscriber(t, url)
	t.Cleanup(func() {
		// Leave no retained status behind on a shared broker.
		sub.client.Publish(topic.For(agentID, topic.Status), 1, true, []byte{}).WaitTimeout(5 * time.Second)
	})
	reads := sub.subscribe(t, topic.For(agentID, topic.Reads))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		a := &app{stdout: logs, stderr: logs, now: time.Now}
		res := runAppAsync(ctx, a, "run", "--config", path, "--log-level", "debug")
		done <- res
	}()

	var batches []wire.ReadBatch
	for len(batches) < 2 {
		m := next(t, reads, "read batch")
		b, _, err := wire.DecodeReadBatch(m.Payload(), time.Now())
		if err != nil {
			t.Fatalf("batch %s: %v", m.Payload(), err)
		}
		batches = append(batches, b)
	}
	// The subscriber's handler runs unordered (OrderMatters false), and
	// rounds stored before the connection leave together: compare numbers,
	// not arrival order.
	if batches[1].Sequence == batches[0].Sequence {
		t.Errorf("two rounds numbered %d\n%s", batches[0].Sequence, logs)
	}
	for _, b := range batches {
		if b.AgentID != agentID || len(b.Reads) != 2 {
			t.Fatalf("batch %d: agent %q, %d reads; want 2 reads from %s", b.Sequence, b.AgentID, len(b.Reads), agentID)
		}
		for i, r := range b.Reads {
			if r.Serial != devices[i].Serial || r.Address != devices[i].Addr.String() {
				t.Errorf("batch %d read %d: serial %q at %s, want %q at %s", b.Sequence, i, r.Serial, r.Address, devices[i].Serial, devices[i].Addr)
			}
		}
	}

	if st, retained := sub.retainedStatus(t, agentID); st.State != domain.AgentOnline || !retained {
		t.Errorf("status while running: %+v (retained %v), want online and retained", st, retained)
	}

	cancel() // Ctrl-C
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, logs)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("run did not stop\n%s", logs)
	}
	if st, retained := sub.retainedStatus(t, agentID); st.State != domain.AgentOffline || !retained {
		t.Errorf("status after a clean stop: %+v (retained %v), want offline and retained", st, retained)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "outbox.db")); err != nil {
		t.Errorf("no outbox in the state directory: %v", err)
	}
}

// runAppAsync runs the program with a's dependencies and a cancellable
// context, as main does on a signal.
func runAppAsync(ctx context.Context, a *app, args ...string) error {
	a.env.Getenv = func(string) string { return "" }
	a.env.Hostname = func() (string, error) { return "test-host", nil }
	a.dial = snmp.Dial
	return a.run(ctx, args)
}
