package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/meterline/meterline/collector/internal/broker"
	"github.com/meterline/meterline/collector/internal/mqtttest"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// logWatch is a slog handler that reports the messages logged, so a test
// can wait for "mqtt subscribed" instead of guessing how long it takes.
type logWatch struct{ msgs chan string }

func (w logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w logWatch) Handle(_ context.Context, r slog.Record) error {
	select {
	case w.msgs <- r.Message:
	default: // nobody is waiting for that many
	}
	return nil
}
func (w logWatch) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w logWatch) WithGroup(string) slog.Handler      { return w }

func (w logWatch) waitFor(t *testing.T, msg string) {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case m := <-w.msgs:
			if m == msg {
				return
			}
		case <-timeout:
			t.Fatalf("never logged %q", msg)
		}
	}
}

func startBroker(t *testing.T, addr string) *broker.Broker {
	t.Helper()
	b, err := broker.Start(addr, discard())
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	return b
}

// TestServiceSurvivesBrokerRestart publishes a batch, restarts the broker
// (which forgets every session and subscription, as a broker without
// persistence does) and checks that the collector reconnects, subscribes
// again and acknowledges the next batch.
func TestServiceSurvivesBrokerRestart(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	addr := b.Addr()
	defer func() { b.Close() }()

	store := newFakeStore()
	watch := logWatch{msgs: make(chan string, 100)}
	svc, err := Start(Config{
		// A reconnect can land on the closing broker and hang until the
		// connect timeout; a short one lets paho try again well within
		// the test's wait.
		Client: ClientConfig{BrokerURL: b.LocalURL(), ClientID: "collector-test", ShareGroup: "collectors", Timeout: 3 * time.Second},
	}, store, slog.New(watch))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	watch.waitFor(t, "mqtt subscribed")

	exchange := func(seq uint64) {
		t.Helper()
		// One client per exchange: the first one's auto-reconnect to the
		// new broker must not take over the second one's client ID.
		agent := mqtttest.Connect(t, b.LocalURL(), fmt.Sprintf("agent-1-exchange-%d", seq))
		acks := mqtttest.Subscribe(t, agent, topic.For("agent-1", topic.Acks))
		mqtttest.Publish(t, agent, topic.For("agent-1", topic.Reads), []byte(batchPayload("agent-1", seq)))
		ack, err := wire.DecodeAck(mqtttest.Receive(t, acks).Payload())
		if err != nil {
			t.Fatalf("decode ack: %v", err)
		}
		if len(ack.Sequences) != 1 || ack.Sequences[0] != seq || ack.AgentID != "agent-1" {
			t.Fatalf("ack = %+v, want agent-1 seq %d", ack, seq)
		}
	}
	exchange(1)

	b.Close()
	b = startBroker(t, addr)
	watch.waitFor(t, "mqtt subscribed")
	exchange(2)

	if err := svc.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.batches[1] != 1 || store.batches[2] != 1 {
		t.Errorf("batches stored = %v, want seq 1 and 2 once each", store.batches)
	}
}

func TestConnectReportsAnUnreachableBroker(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	url := b.LocalURL()
	b.Close() // nothing listens there now

	_, err := Start(Config{Client: ClientConfig{BrokerURL: url, ClientID: "c", ShareGroup: "g", Timeout: wait}}, newFakeStore(), discard())
	if err == nil {
		t.Fatal("Start with no broker succeeded")
	}
}
