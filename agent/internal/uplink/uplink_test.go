package uplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

var discard = slog.New(slog.DiscardHandler)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestSeqFloor(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name   string
		legacy string // "" : no legacy file
		want   uint64
		err    string
	}{
		{"no legacy file: the clock", "", 1_700_000_000, ""},
		{"legacy file behind the clock", "1000\n", 1_700_000_000, ""},
		{"legacy file ahead of the clock", "1800000000\n", 1_800_000_001, ""},
		{"garbage", "twelve\n", 0, `"twelve" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.legacy != "" {
				if err := os.WriteFile(filepath.Join(dir, legacySequenceFile), []byte(tt.legacy), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := SeqFloor(dir, now)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("SeqFloor = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

// fakeToken is a completed paho token.
type fakeToken struct{ err error }

func (t fakeToken) Wait() bool                     { return true }
func (t fakeToken) WaitTimeout(time.Duration) bool { return true }
func (t fakeToken) Error() error                   { return t.err }
func (t fakeToken) Done() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

type published struct {
	topic    string
	qos      byte
	retained bool
	payload  []byte
}

// fakeClient is the part of a paho client the uplink uses.
type fakeClient struct {
	mqtt.Client // nil: any other method panics
	opts        *mqtt.ClientOptions

	mu           sync.Mutex
	connectErrs  []error
	connects     int
	connected    bool
	published    []published
	routes       map[string]mqtt.MessageHandler
	disconnected bool
}

func (c *fakeClient) Connect() mqtt.Token {
	c.mu.Lock()
	c.connects++
	if len(c.connectErrs) > 0 {
		err := c.connectErrs[0]
		c.connectErrs = c.connectErrs[1:]
		c.mu.Unlock()
		return fakeToken{err}
	}
	c.connected = true
	c.mu.Unlock()
	go c.opts.OnConnect(c) // as paho does
	return fakeToken{}
}

func (c *fakeClient) IsConnectionOpen() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}

func (c *fakeClient) Publish(topic string, qos byte, retained bool, payload any) mqtt.Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.published = append(c.published, published{topic, qos, retained, payload.([]byte)})
	return fakeToken{}
}

func (c *fakeClient) Subscribe(topic string, qos byte, handle mqtt.MessageHandler) mqtt.Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	if qos != 1 {
		panic("subscribed below QoS 1")
	}
	if c.routes == nil {
		c.routes = map[string]mqtt.MessageHandler{}
	}
	c.routes[topic] = handle
	return fakeToken{}
}

// deliver plays the broker sending a message, on the caller's goroutine
// (paho's router, with OrderMatters).
func (c *fakeClient) deliver(topic string, payload []byte) bool {
	c.mu.Lock()
	handle := c.routes[topic]
	c.mu.Unlock()
	if handle == nil {
		return false
	}
	handle(c, fakeMessage{topic: topic, payload: payload})
	return true
}

func (c *fakeClient) hasRoute(topic string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.routes[topic] != nil
}

func (c *fakeClient) Disconnect(uint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.disconnected, c.connected = true, false
}

func (c *fakeClient) snapshot() []published {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.published)
}

type fakeMessage struct {
	mqtt.Message
	topic   string
	payload []byte
}

func (m fakeMessage) Topic() string   { return m.topic }
func (m fakeMessage) Payload() []byte { return m.payload }

func startFake(t *testing.T, fake *fakeClient, o MQTTOptions) *MQTT {
	t.Helper()
	if o.URL == "" {
		o.URL = "tcp://127.0.0.1:1"
	}
	o.ConnectJitter = -1
	m, err := start(t.Context(), o, discard, func(opts *mqtt.ClientOptions) mqtt.Client { fake.opts = opts; return fake })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func TestMQTTStatusAndWill(t *testing.T) {
	started := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	fake := &fakeClient{connectErrs: []error{errors.New("connection refused")}}
	report := StatusReport{DevicesPolled: 12, OutboxDepth: 3, OutboxDropped: 1, ReadsCleaned: 4, ReadsRefused: 5, BatchesRefused: 6}
	m := startFake(t, fake, MQTTOptions{ClientID: "c1", AgentID: "site-1", Version: "v1.2.3", Now: fixedClock(started),
		KeepAlive: 45 * time.Second, Report: func() StatusReport { return report }})
	waitFor(t, "the online status after a refused first attempt", func() bool { return len(fake.snapshot()) == 1 })

	o := fake.opts
	if !o.WillEnabled || o.WillTopic != "meterline/v1/agents/site-1/status" || o.WillQos != 1 || !o.WillRetained {
		t.Errorf("will: enabled %v topic %q qos %d retained %v", o.WillEnabled, o.WillTopic, o.WillQos, o.WillRetained)
	}
	will, err := wire.DecodeAgentStatus(o.WillPayload)
	if err != nil || will.State != domain.AgentOffline || will.AgentID != "site-1" || !will.StartedAt.Equal(started) {
		t.Errorf("will payload %s: %v", o.WillPayload, err)
	}
	if o.AutoReconnect || !o.Order || o.ClientID != "c1" || o.KeepAlive != 45 || !o.CleanSession {
		t.Errorf("options: auto-reconnect %v, order matters %v, client id %q, keepalive %d", o.AutoReconnect, o.Order, o.ClientID, o.KeepAlive)
	}

	await := m.PublishReads([]byte(`{"seq":7}`))
	if err := await(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	got := fake.snapshot()
	if len(got) != 3 {
		t.Fatalf("published %d messages, want online status, batch, offline status", len(got))
	}
	wantStates := []domain.AgentState{domain.AgentOnline, "", domain.AgentOffline}
	for i, p := range got {
		if i == 1 {
			if p.topic != "meterline/v1/agents/site-1/reads" || p.qos != 1 || p.retained || string(p.payload) != `{"seq":7}` {
				t.Errorf("batch published to %q qos %d retained %v: %s", p.topic, p.qos, p.retained, p.payload)
			}
			continue
		}
		st, err := wire.DecodeAgentStatus(p.payload)
		if err != nil || p.topic != o.WillTopic || p.qos != 1 || !p.retained || st.State != wantStates[i] || st.Version != "v1.2.3" {
			t.Errorf("status %d: %s to %q qos %d retained %v (%v)", i, p.payload, p.topic, p.qos, p.retained, err)
		}
		if st.DevicesPolled != 12 || st.OutboxDepth != 3 || st.OutboxDropped != 1 ||
			st.ReadsCleaned != 4 || st.ReadsRefused != 5 || st.BatchesRefused != 6 {
			t.Errorf("status %d figures: %s", i, p.payload)
		}
	}
	if !fake.disconnected {
		t.Error("not disconnected")
	}
}

func TestMQTTStatusRefreshedOnChange(t *testing.T) {
	var mu sync.Mutex
	depth := 0
	fake := &fakeClient{}
	startFake(t, fake, MQTTOptions{AgentID: "site-1", StatusInterval: 10 * time.Millisecond,
		Report: func() StatusReport { mu.Lock(); defer mu.Unlock(); return StatusReport{OutboxDepth: depth} }})
	mu.Lock()
	depth = 5
	mu.Unlock()
	waitFor(t, "a status with the new depth", func() bool {
		for _, p := range fake.snapshot() {
			if st, err := wire.DecodeAgentStatus(p.payload); err == nil && st.OutboxDepth == 5 {
				return true
			}
		}
		return false
	})
}

func TestReconnectsAfterLoss(t *testing.T) {
	fake := &fakeClient{}
	m := startFake(t, fake, MQTTOptions{AgentID: "site-1"})
	waitFor(t, "the first connection", m.IsConnected)
	fake.mu.Lock()
	fake.connected = false
	fake.connectErrs = []error{errors.New("connection refused")} // the broker is still restarting
	fake.mu.Unlock()
	fake.opts.OnConnectionLost(fake, errors.New("EOF"))
	// The first connection, a refused attempt, then a successful one.
	waitFor(t, "the third connection attempt to succeed", func() bool {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		return fake.connects == 3 && fake.connected
	})
}

func TestStartReturnsWhileBrokerUnreachable(t *testing.T) {
	refusals := make([]error, 1000)
	for i := range refusals {
		refusals[i] = errors.New("connection refused")
	}
	fake := &fakeClient{connectErrs: refusals}
	m := startFake(t, fake, MQTTOptions{AgentID: "a"})
	if m.IsConnected() {
		t.Fatal("connected to nothing")
	}
	if err := m.PublishReads([]byte("x"))(t.Context()); !errors.Is(err, ErrNotConnected) {
		t.Errorf("PublishReads while down: %v", err)
	}
	if err := m.PublishEvent(t.Context(), wire.Event{ID: "e1"}); !errors.Is(err, ErrNotConnected) {
		t.Errorf("PublishEvent while down: %v", err)
	}
	// Close ends the retry loop promptly: it is waiting out a backoff.
	if err := m.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(fake.snapshot()) != 0 {
		t.Errorf("published while never connected: %v", fake.snapshot())
	}
}

func TestSubscribe(t *testing.T) {
	fake := &fakeClient{}
	m := startFake(t, fake, MQTTOptions{AgentID: "site-1"})
	got := make(chan string, 100)
	// Registered before the connection is up, and after.
	m.Subscribe(topic.Acks, func(p []byte) { got <- "ack " + string(p) })
	waitFor(t, "the connection", m.IsConnected)
	started, release := make(chan struct{}, 1), make(chan struct{})
	m.Subscribe(topic.Commands, func(p []byte) {
		if string(p) == "c0" {
			started <- struct{}{}
			<-release
		}
		got <- "cmd " + string(p)
	})

	acks, cmds := topic.For("site-1", topic.Acks), topic.For("site-1", topic.Commands)
	waitFor(t, "both subscriptions", func() bool { return fake.hasRoute(acks) && fake.hasRoute(cmds) })
	fake.deliver(acks, []byte("a1"))
	if msg := <-got; msg != "ack a1" {
		t.Errorf("got %q", msg)
	}
	fake.deliver(cmds, []byte("c0"))
	<-started
	// The commands handler is stuck on c0; paho's goroutine is not: 100
	// more messages are taken at once and the oldest dropped.
	for i := range 100 {
		fake.deliver(cmds, fmt.Appendf(nil, "c%d", i+1))
	}
	close(release)
	var handled []string
	for range 1 + subscriptionQueue {
		handled = append(handled, <-got)
	}
	want := []string{"cmd c0", fmt.Sprintf("cmd c%d", 100-subscriptionQueue+1)}
	if handled[0] != want[0] || handled[1] != want[1] || handled[len(handled)-1] != "cmd c100" {
		t.Errorf("handled %q, %q ... %q; want %q, %q ... c100", handled[0], handled[1], handled[len(handled)-1], want[0], want[1])
	}

	// A reconnection subscribes again.
	fake.mu.Lock()
	fake.routes = nil
	fake.mu.Unlock()
	fake.opts.OnConnect(fake)
	if !fake.deliver(acks, []byte("a2")) || <-got != "ack a2" {
		t.Error("not subscribed again after a reconnection")
	}
}

func TestPublishEvent(t *testing.T) {
	fake := &fakeClient{}
	m := startFake(t, fake, MQTTOptions{AgentID: "site-1"})
	waitFor(t, "the connection", m.IsConnected)
	at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	if err := m.PublishEvent(t.Context(), wire.Event{ID: "e1", At: at, Kind: "toner_low", Serial: "X"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range fake.snapshot() {
		if p.topic != "meterline/v1/agents/site-1/events" {
			continue
		}
		e, err := wire.DecodeEvent(p.payload)
		if err != nil || e.AgentID != "site-1" || e.Schema != wire.SchemaVersion || e.ID != "e1" || p.qos != 1 || p.retained {
			t.Errorf("event %s qos %d retained %v: %v", p.payload, p.qos, p.retained, err)
		}
		return
	}
	t.Error("no event published")
}

func TestTLSOptions(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	tests := []struct {
		name string
		o    TLSOptions
		want string
	}{
		{"missing CA", TLSOptions{CAFile: filepath.Join(dir, "none.pem")}, "ca_file:"},
		{"CA not PEM", TLSOptions{CAFile: notPEM}, "ca_file: " + notPEM + " holds no PEM certificate"},
		{"cert without key", TLSOptions{CertFile: notPEM}, "cert_file: set without key_file"},
		{"key without cert", TLSOptions{KeyFile: notPEM}, "key_file: set without cert_file"},
		{"bad pair", TLSOptions{CertFile: notPEM, KeyFile: notPEM}, "cert_file, key_file:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.o.Config(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	c, err := TLSOptions{}.Config()
	if err != nil || c.RootCAs != nil || c.InsecureSkipVerify {
		t.Errorf("zero options: %+v, %v", c, err)
	}
	// A TLS URL with bad files fails Start; a plain one ignores TLS.
	if _, err := Start(t.Context(), MQTTOptions{URL: "ssl://127.0.0.1:1", AgentID: "a", TLS: TLSOptions{CAFile: notPEM}}, discard); err == nil {
		t.Error("Start accepted an unreadable ca_file")
	}
}
