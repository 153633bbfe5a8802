package uplink

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// dropProxy forwards TCP connections from 127.0.0.1:0 to a broker and can
// cut them all at once, the way a network failure does: no DISCONNECT.
type dropProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
}

func startDropProxy(t *testing.T, target string) *dropProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.drop() })
	go p.serve()
	return p
}

func (p *dropProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		broker, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, broker)
		p.mu.Unlock()
		go func() { io.Copy(broker, client); broker.Close() }()
		go func() { io.Copy(client, broker); client.Close() }()
	}
}

func (p *dropProxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestMQTTWillAndReconnect connects through a proxy, cuts the connection
// and expects the broker to publish the Will (offline), then the agent to
// reconnect by itself and say online again.
func TestMQTTWillAndReconnect(t *testing.T) {
	raw := os.Getenv("METERLINE_TEST_MQTT_URL")
	if raw == "" {
		t.Skip("METERLINE_TEST_MQTT_URL is not set: set it to an MQTT broker such as tcp://127.0.0.1:1883 (Mosquitto) to test the Last Will")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "tcp" {
		t.Skipf("the Will test needs a tcp:// broker URL, not %q", raw)
	}
	proxy := startDropProxy(t, u.Host)
	agentID := fmt.Sprintf("test-will-%d", time.Now().UnixNano())
	statusTopic := topic.For(agentID, topic.Status)

	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(raw).SetClientID(agentID + "-sub").SetOrderMatters(false))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect subscriber: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	defer func() { // leave no retained status behind on a shared broker
		sub.Publish(statusTopic, 1, true, []byte{}).WaitTimeout(5 * time.Second)
	}()
	states := make(chan domain.AgentState, 10)
	tok := sub.Subscribe(statusTopic, 1, func(_ mqtt.Client, m mqtt.Message) {
		if st, err := wire.DecodeAgentStatus(m.Payload()); err == nil {
			states <- st.State
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	expect := func(want domain.AgentState, why string) {
		t.Helper()
		select {
		case got := <-states:
			if got != want {
				t.Fatalf("%s: status %q, want %q", why, got, want)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("%s: no status arrived", why)
		}
	}

	m, err := Start(context.Background(), MQTTOptions{
		URL: "tcp://" + proxy.ln.Addr().String(), ClientID: agentID, AgentID: agentID, Version: "test",
		ConnectJitter: -1, MaxReconnectInterval: 2 * time.Second,
	}, discard)
	if err != nil {
		t.Fatal(err)
	}
	expect(domain.AgentOnline, "after connecting")

	proxy.drop()
	expect(domain.AgentOffline, "the Will, after the connection dropped")
	expect(domain.AgentOnline, "after reconnecting")

	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	expect(domain.AgentOffline, "after a clean stop")
}
