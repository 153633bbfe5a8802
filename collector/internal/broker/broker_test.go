package broker

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/collector/internal/mqtttest"
	"github.com/meterline/meterline/shared/topic"
)

func startBroker(t *testing.T) *Broker {
	t.Helper()
	b, err := Start("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestAddrIsTheBoundPort(t *testing.T) {
	b := startBroker(t)
	if strings.HasSuffix(b.Addr(), ":0") || !strings.HasPrefix(b.Addr(), "127.0.0.1:") {
		t.Errorf("Addr() = %q, want 127.0.0.1 and the port bound", b.Addr())
	}
	if want := "tcp://" + b.Addr(); b.LocalURL() != want {
		t.Errorf("LocalURL() = %q, want %q", b.LocalURL(), want)
	}
	if _, err := Start(b.Addr(), slog.New(slog.DiscardHandler)); err == nil {
		t.Errorf("Start on %s, which is in use, succeeded", b.Addr())
	}
}

// TestSharedSubscription checks what the collector relies on: MQTT 3.1.1
// clients in one share group get each message once between them, while a
// plain subscriber still gets all.
func TestSharedSubscription(t *testing.T) {
	b := startBroker(t)
	shared := make(chan string, 100)
	for i := range 2 {
		c := mqtttest.Connect(t, b.LocalURL(), fmt.Sprintf("collector-%d", i))
		msgs := mqtttest.Subscribe(t, c, topic.Shared(topic.DefaultShareGroup, topic.Reads))
		go func() {
			for m := range msgs {
				shared <- string(m.Payload())
			}
		}()
	}
	watcher := mqtttest.Connect(t, b.LocalURL(), "watcher")
	all := mqtttest.Subscribe(t, watcher, topic.Prefix+"+/"+string(topic.Reads))

	agent := mqtttest.Connect(t, b.LocalURL(), "agent-1")
	const n = 20
	for i := range n {
		mqtttest.Publish(t, agent, topic.For("agent-1", topic.Reads), fmt.Appendf(nil, "batch %d", i))
	}

	seen := map[string]int{}
	for range n {
		select {
		case p := <-shared:
			seen[p]++
		case <-time.After(mqtttest.Wait):
			t.Fatalf("the share group received %d of %d messages", len(seen), n)
		}
	}
	for i := range n {
		if p := fmt.Sprintf("batch %d", i); seen[p] != 1 {
			t.Errorf("%q delivered %d times to the share group, want once", p, seen[p])
		}
	}
	for range n {
		mqtttest.Receive(t, all)
	}
}

// TestHugePacketIsRefused checks that a publish over MaxPacketBytes costs
// its sender the connection and nobody else anything.
func TestHugePacketIsRefused(t *testing.T) {
	b := startBroker(t)
	watcher := mqtttest.Connect(t, b.LocalURL(), "watcher")
	msgs := mqtttest.Subscribe(t, watcher, "#")

	flooder := mqtttest.Connect(t, b.LocalURL(), "flooder")
	tok := flooder.Publish(topic.For("agent-1", topic.Reads), 1, false, make([]byte, MaxPacketBytes))
	if tok.WaitTimeout(mqtttest.Wait) && tok.Error() == nil {
		t.Error("a publish over the limit was acknowledged")
	}

	agent := mqtttest.Connect(t, b.LocalURL(), "agent-2")
	mqtttest.Publish(t, agent, topic.For("agent-2", topic.Reads), []byte("small"))
	if m := mqtttest.Receive(t, msgs); string(m.Payload()) != "small" {
		t.Errorf("watcher received %d bytes on %s, want the small message only", len(m.Payload()), m.Topic())
	}
}

// TestCloseWithSilentConnection: a connection that never sends CONNECT
// (a port scanner, a client cut mid-handshake) must not keep Close waiting
// for ever, as mochi alone would.
func TestCloseWithSilentConnection(t *testing.T) {
	b, err := Start("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The broker closed the silent connection.
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("the silent connection is still open after Close")
	}
}
