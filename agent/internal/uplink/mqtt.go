// Package uplink carries what the agent reads to the collector over MQTT:
// read batches kept in the outbox until the collector acknowledges them
// (Sender), the agent's retained status with its Last Will, events, and
// subscriptions to what the collector sends back (MQTT).
package uplink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/redact"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// MQTT defaults.
const (
	// DefaultPublishTimeout bounds each wait for the broker.
	DefaultPublishTimeout       = 30 * time.Second
	DefaultKeepAlive            = 60 * time.Second
	DefaultMaxReconnectInterval = 2 * time.Minute
	// DefaultConnectJitter is the most a (re)connection attempt is put
	// off at random, so that agents restarted together, or cut off by the
	// same broker restart, do not all knock at once.
	DefaultConnectJitter  = 5 * time.Second
	DefaultStatusInterval = time.Minute
	// subscriptionQueue bounds the messages of one subscription waiting
	// for their handler; past it the oldest is dropped.
	subscriptionQueue = 64
)

// ErrNotConnected says the broker connection is down (it is being
// re-established); the caller may try again later.
var ErrNotConnected = errors.New("not connected to the MQTT broker")

// MQTTOptions say how to reach the broker and who this agent is.
type MQTTOptions struct {
	URL      string
	Username string
	Password string
	ClientID string
	AgentID  string
	// Version is the agent's build version, reported in its status.
	Version string
	// TLS applies to the URLs of a TLS scheme (TLSScheme).
	TLS       TLSOptions
	KeepAlive time.Duration
	// PublishTimeout bounds every wait for the broker: connecting,
	// PUBACK, SUBACK.
	PublishTimeout time.Duration
	// MaxReconnectInterval caps the backoff between connection attempts.
	MaxReconnectInterval time.Duration
	// ConnectJitter is the most each connection attempt is put off at
	// random. Zero means the smaller of DefaultConnectJitter and a quarter
	// of MaxReconnectInterval; negative means none.
	ConnectJitter time.Duration
	// StatusInterval is how often the retained status is refreshed; it is
	// also published within seconds of any change of Report.
	StatusInterval time.Duration
	// Report supplies the figures of the status; nil reports none.
	Report func() StatusReport
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// StatusReport is what the agent status says beyond its state: how many
// devices the last round read, how many batches wait in the outbox, and
// how many the outbox bounds ever dropped (how an operator sees loss).
type StatusReport struct {
	DevicesPolled int

	// What became of the reads: see wire.AgentStatus.
	ReadsCleaned, ReadsRefused, BatchesRefused uint64

	OutboxDepth   int
	OutboxDropped uint64
	// ConfigRefused is wire.AgentStatus.ConfigRefused, one reason a line:
	// a string, so that reports compare with ==.
	ConfigRefused string
}

func (o MQTTOptions) withDefaults() MQTTOptions {
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = DefaultPublishTimeout
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.MaxReconnectInterval <= 0 {
		o.MaxReconnectInterval = DefaultMaxReconnectInterval
	}
	switch {
	case o.ConnectJitter == 0:
		o.ConnectJitter = min(DefaultConnectJitter, o.MaxReconnectInterval/4)
	case o.ConnectJitter < 0:
		o.ConnectJitter = 0
	}
	if o.StatusInterval <= 0 {
		o.StatusInterval = DefaultStatusInterval
	}
	if o.Report == nil {
		o.Report = func() StatusReport { return StatusReport{} }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// MQTT is the agent's connection to an MQTT 3.1.1 broker. It keeps a
// retained status on the agent's status topic: online while connected
// (refreshed), offline after Close, and offline as its Last Will when the
// connection drops. It connects and reconnects by itself, in the
// background; nothing that uses it waits for the broker longer than
// PublishTimeout.
type MQTT struct {
	client      mqtt.Client
	opts        MQTTOptions
	log         *slog.Logger
	readsTopic  string
	statusTopic string
	eventsTopic string
	startedAt   time.Time

	loopCtx context.Context    // lives until Close (or Start's ctx ends)
	stop    context.CancelFunc // ends loopCtx
	loops   sync.WaitGroup
	lost    chan struct{} // the connection dropped: connect again

	mu        sync.Mutex
	closed    bool
	subs      map[string]*subscription // topic → subscription
	onConnect []func()

	statusMu     sync.Mutex
	lastReport   StatusReport
	lastStatusAt time.Time
}

// Start sets up the connection and returns at once: it connects in the
// background, retrying with backoff and jitter until it succeeds or ctx
// ends, and from then on reconnects by itself. It fails only on options
// that can never work (unreadable TLS files).
func Start(ctx context.Context, o MQTTOptions, log *slog.Logger) (*MQTT, error) {
	return start(ctx, o, log, mqtt.NewClient)
}

// start is Start with the paho constructor as a parameter, for tests.
func start(ctx context.Context, o MQTTOptions, log *slog.Logger, newClient func(*mqtt.ClientOptions) mqtt.Client) (*MQTT, error) {
	o = o.withDefaults()
	m := &MQTT{
		opts:        o,
		log:         log,
		readsTopic:  topic.For(o.AgentID, topic.Reads),
		statusTopic: topic.For(o.AgentID, topic.Status),
		eventsTopic: topic.For(o.AgentID, topic.Events),
		startedAt:   o.Now().UTC().Truncate(time.Second),
		subs:        map[string]*subscription{},
		lost:        make(chan struct{}, 1),
	}
	tlsConfig, err := tlsFor(o, log)
	if err != nil {
		return nil, err
	}
	will, err := wire.Encode(m.status(domain.AgentOffline, time.Time{}, StatusReport{}))
	if err != nil {
		return nil, err
	}
	opts := mqtt.NewClientOptions().
		AddBroker(o.URL).
		SetClientID(o.ClientID).
		SetUsername(o.Username).
		SetPassword(o.Password).
		SetCleanSession(true).
		SetKeepAlive(o.KeepAlive).
		// We reconnect ourselves (connectLoop): with jitter, which paho's
		// backoff lacks, and through a fresh clean session, which skips
		// paho's resume of stale in-flight messages (racy in paho 1.5; the
		// Sender re-sends what was not acknowledged anyway). Cut off, paho
		// fails the pending tokens at once.
		SetAutoReconnect(false).
		SetConnectTimeout(o.PublishTimeout).
		SetWriteTimeout(o.PublishTimeout).
		// Our message handlers only hand the payload to a bounded queue and
		// never block (paho #427, #474), so paho may call them in order on
		// its own goroutine: a newer retained config never overtakes an
		// older one.
		SetOrderMatters(true).
		// The broker publishes this if the agent vanishes without a goodbye.
		SetBinaryWill(m.statusTopic, will, 1, true).
		// Runs on every (re)connection, in its own goroutine.
		SetOnConnectHandler(func(mqtt.Client) { m.connected() }).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			log.Warn("lost the MQTT broker; reconnecting", "broker", redact.URL(o.URL), "error", err.Error())
			select {
			case m.lost <- struct{}{}:
			default: // connectLoop has been told already
			}
		})
	if tlsConfig != nil {
		opts.SetTLSConfig(tlsConfig)
	}
	m.loopCtx, m.stop = context.WithCancel(ctx)
	m.client = newClient(opts)
	m.loops.Go(func() { m.connectLoop(m.loopCtx) })
	m.loops.Go(func() { m.statusLoop(m.loopCtx) })
	return m, nil
}

// tlsFor returns the TLS configuration for a TLS URL, nil for a plain one.
func tlsFor(o MQTTOptions, log *slog.Logger) (*tls.Config, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %q is not a URL", redact.URL(o.URL))
	}
	if !TLSScheme(u.Scheme) {
		return nil, nil
	}
	c, err := o.TLS.Config()
	if err != nil {
		return nil, err
	}
	if c.InsecureSkipVerify {
		log.Warn("insecure_skip_verify is on: the broker's certificate is not checked, anyone on the path can read and forge this agent's traffic",
			"broker", redact.URL(o.URL))
	}
	return c, nil
}

// connectLoop keeps the connection up: it connects, waits for the
// connection to drop, and connects again, until ctx ends. Each round
// starts after a random delay (agents restarted together, or cut off by
// the same broker restart, must not knock all at once), and failed
// attempts are retried after doubling waits, jittered, up to
// MaxReconnectInterval.
func (m *MQTT) connectLoop(ctx context.Context) {
	// The first connection goes at once; reconnections after a drop wait
	// a random share of ConnectJitter, so that the agents of a restarted
	// broker do not all come back in the same instant.
	delay := time.Duration(0)
	for {
		backoff := time.Second
		for {
			if !m.sleepCtx(ctx, delay) {
				return
			}
			// Bounded wait: the connect timeout, plus room for paho to report.
			err := m.waitFor(ctx, m.client.Connect(), 2*m.opts.PublishTimeout)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			delay = backoff + m.jitter()
			m.log.Warn("cannot connect to the MQTT broker; retrying", "broker", redact.URL(m.opts.URL),
				"retry_in_seconds", delay.Seconds(), "error", err.Error())
			backoff = min(2*backoff, m.opts.MaxReconnectInterval)
		}
		select {
		case <-ctx.Done():
			return
		case <-m.lost:
		}
		delay = m.jitter()
	}
}

// connected runs on every (re)connection: say online (the broker published
// the Will on a drop), subscribe again, then tell the hooks.
func (m *MQTT) connected() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	subs := make([]*subscription, 0, len(m.subs))
	for _, s := range m.subs {
		subs = append(subs, s)
	}
	hooks := append([]func(){}, m.onConnect...)
	m.mu.Unlock()

	m.log.Info("connected to the MQTT broker", "broker", redact.URL(m.opts.URL), "client_id", m.opts.ClientID)
	if err := m.publishStatus(context.Background(), domain.AgentOnline); err != nil {
		m.log.Warn("publish agent status", "state", string(domain.AgentOnline), "error", err.Error())
	}
	for _, s := range subs {
		m.subscribe(s)
	}
	for _, f := range hooks {
		f()
	}
}

// OnConnect registers f to run after every (re)connection, once the status
// is published and the subscriptions are made; if the connection is up
// already, f also runs at once. f runs on a goroutine of its own and
// should return soon.
func (m *MQTT) OnConnect(f func()) {
	m.mu.Lock()
	m.onConnect = append(m.onConnect, f)
	m.mu.Unlock()
	if m.IsConnected() {
		go f()
	}
}

// IsConnected reports whether the connection is up now.
func (m *MQTT) IsConnected() bool { return m.client.IsConnectionOpen() }

// PublishReads implements BatchPublisher: it publishes an encoded read
// batch at QoS 1 on the agent's reads topic.
func (m *MQTT) PublishReads(payload []byte) func(context.Context) error {
	if !m.IsConnected() {
		return func(context.Context) error { return ErrNotConnected }
	}
	tok := m.client.Publish(m.readsTopic, 1, false, payload)
	return func(ctx context.Context) error {
		if err := m.wait(ctx, tok); err != nil {
			return fmt.Errorf("publish to %s: %w", m.readsTopic, err)
		}
		return nil
	}
}

// PublishEvent publishes an event at QoS 1 on the agent's events topic
// and waits for the broker's PUBACK, at most PublishTimeout. It is best
// effort: events do not go through the outbox, and while the connection
// is down it fails at once with ErrNotConnected. Schema and AgentID are
// filled in when empty.
func (m *MQTT) PublishEvent(ctx context.Context, e wire.Event) error {
	if e.Schema == 0 {
		e.Schema = wire.SchemaVersion
	}
	if e.AgentID == "" {
		e.AgentID = m.opts.AgentID
	}
	payload, err := wire.Encode(e)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	if !m.IsConnected() {
		return fmt.Errorf("publish event %s: %w", e.ID, ErrNotConnected)
	}
	if err := m.wait(ctx, m.client.Publish(m.eventsTopic, 1, false, payload)); err != nil {
		return fmt.Errorf("publish event %s to %s: %w", e.ID, m.eventsTopic, err)
	}
	return nil
}

// Subscribe has handle called with the payload of every message on the
// agent's topic of the given kind (topic.For(agentID, kind)), at QoS 1.
// It may be called before or after the connection is up; the subscription
// is made again on every reconnection. handle runs on a goroutine of the
// subscription's own, one message at a time, in arrival order, never on
// paho's: it may take its time, but while it does, at most 64 messages
// wait and past that the oldest is dropped (retained and re-sent
// messages come again). Subscribing again to the same kind replaces the
// handler.
func (m *MQTT) Subscribe(kind topic.Kind, handle func(payload []byte)) {
	s := &subscription{
		topic:  topic.For(m.opts.AgentID, kind),
		handle: handle,
		queue:  make(chan []byte, subscriptionQueue),
		quit:   make(chan struct{}),
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	if old := m.subs[s.topic]; old != nil {
		close(old.quit)
	}
	m.subs[s.topic] = s
	m.mu.Unlock()
	go s.run()
	if m.IsConnected() {
		go m.subscribe(s) // never keep the caller waiting on the broker
	}
}

// subscribe asks the broker for s, waiting at most PublishTimeout.
func (m *MQTT) subscribe(s *subscription) {
	tok := m.client.Subscribe(s.topic, 1, func(_ mqtt.Client, msg mqtt.Message) { s.offer(msg.Payload()) })
	if err := m.wait(context.Background(), tok); err != nil {
		m.log.Warn("subscribe", "topic", s.topic, "error", err.Error())
		return
	}
	m.log.Debug("subscribed", "topic", s.topic)
}

// subscription feeds one handler from a bounded queue.
type subscription struct {
	topic   string
	handle  func([]byte)
	queue   chan []byte
	quit    chan struct{}
	dropped atomic.Uint64
}

// offer queues a payload without blocking paho, dropping the oldest
// waiting one when the queue is full.
func (s *subscription) offer(p []byte) {
	for {
		select {
		case s.queue <- p:
			return
		default:
		}
		select {
		case <-s.queue:
			s.dropped.Add(1)
		default:
		}
	}
}

func (s *subscription) run() {
	for {
		select {
		case <-s.quit:
			return
		case p := <-s.queue:
			s.handle(p)
		}
	}
}

// Close stops the background work, publishes the offline status itself
// (a clean stop sends no Will) when connected, and disconnects. Calling it
// again does nothing.
func (m *MQTT) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	for _, s := range m.subs {
		close(s.quit)
	}
	m.mu.Unlock()
	m.stop()
	m.loops.Wait()

	var err error
	if m.IsConnected() {
		err = m.publishStatus(ctx, domain.AgentOffline)
	}
	m.client.Disconnect(250) // milliseconds to finish in-flight work
	return err
}

// statusLoop refreshes the retained status every StatusInterval, and
// within seconds when the report changes.
func (m *MQTT) statusLoop(ctx context.Context) {
	ticker := time.NewTicker(min(5*time.Second, m.opts.StatusInterval))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if !m.IsConnected() {
			continue
		}
		m.statusMu.Lock()
		due := m.opts.Report() != m.lastReport || m.opts.Now().Sub(m.lastStatusAt) >= m.opts.StatusInterval
		m.statusMu.Unlock()
		if !due {
			continue
		}
		if err := m.publishStatus(ctx, domain.AgentOnline); err != nil && ctx.Err() == nil {
			m.log.Warn("publish agent status", "state", string(domain.AgentOnline), "error", err.Error())
		}
	}
}

func (m *MQTT) publishStatus(ctx context.Context, state domain.AgentState) error {
	report := m.opts.Report()
	now := m.opts.Now()
	payload, err := wire.Encode(m.status(state, now, report))
	if err != nil {
		return err
	}
	if err := m.wait(ctx, m.client.Publish(m.statusTopic, 1, true, payload)); err != nil {
		return fmt.Errorf("publish %s status to %s: %w", state, m.statusTopic, err)
	}
	m.statusMu.Lock()
	m.lastReport, m.lastStatusAt = report, now
	m.statusMu.Unlock()
	return nil
}

func (m *MQTT) status(state domain.AgentState, at time.Time, r StatusReport) wire.AgentStatus {
	if !at.IsZero() {
		at = at.UTC().Truncate(time.Second)
	}
	return wire.AgentStatus{
		Schema:        wire.SchemaVersion,
		AgentID:       m.opts.AgentID,
		State:         state,
		Version:       m.opts.Version,
		StartedAt:     m.startedAt,
		At:            at,
		DevicesPolled: r.DevicesPolled,

		ReadsCleaned: r.ReadsCleaned, ReadsRefused: r.ReadsRefused, BatchesRefused: r.BatchesRefused,

		OutboxDepth:   r.OutboxDepth,
		OutboxDropped: r.OutboxDropped,
		ConfigRefused: lines(r.ConfigRefused),
	}
}

// lines splits text into its lines; none for "".
func lines(text string) []string {
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// jitter is a random delay in [0, ConnectJitter).
func (m *MQTT) jitter() time.Duration {
	if m.opts.ConnectJitter <= 0 {
		return 0
	}
	return rand.N(m.opts.ConnectJitter) //nolint:gosec // G404: spreads reconnects in time, nothing to guess or keep secret
}

// sleepCtx waits d and reports whether ctx is still live.
func (m *MQTT) sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// errTimeout says the broker did not acknowledge in time.
var errTimeout = errors.New("no answer from the broker in time")

// wait waits for a paho token, at most PublishTimeout and no longer than
// ctx allows.
func (m *MQTT) wait(ctx context.Context, t mqtt.Token) error {
	return m.waitFor(ctx, t, m.opts.PublishTimeout)
}

func (m *MQTT) waitFor(ctx context.Context, t mqtt.Token, limit time.Duration) error {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-timer.C:
		return fmt.Errorf("%w (%s)", errTimeout, limit)
	case <-ctx.Done():
		return ctx.Err()
	}
}
