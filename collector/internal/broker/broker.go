// Package broker is the MQTT broker a single-box collector embeds, so that
// agents have something to talk to without a Mosquitto to run beside it.
// It is mochi-mqtt in memory: sessions last as long as the process. Each
// agent may use only its own topics, as on the production broker
// (accessHook); open to the network it requires passwords.
package broker

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// MaxPacketBytes is the largest MQTT packet the broker accepts; a client
// sending a larger one is disconnected.
const MaxPacketBytes = 4 << 20

// closeGrace is how long Close lets mochi disconnect its clients before it
// closes the connections that are left.
const closeGrace = 2 * time.Second

// Broker is a running embedded broker.
type Broker struct {
	server   *mqtt.Server
	listener *trackingListener
	access   *accessHook
}

// Option configures Start.
type Option func(*options)

type options struct {
	passwords *Passwords
}

// WithPasswords makes every client log in with a password of p; anonymous
// clients are refused. Required to listen beyond loopback.
func WithPasswords(p *Passwords) Option {
	return func(o *options) { o.passwords = p }
}

// Start listens on the TCP address (host:port; port 0 picks a free one)
// and serves MQTT 3.1.1 and 5 clients. The listening socket is bound when
// Start returns, so a port in use is reported here. An address that is not
// loopback (LoopbackOnly) needs WithPasswords.
func Start(addr string, logger *slog.Logger, opts ...Option) (*Broker, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.passwords == nil && !LoopbackOnly(addr) {
		return nil, fmt.Errorf("broker: listen on %s: %w", addr, ErrPasswordsRequired)
	}
	caps := mqtt.NewDefaultServerCapabilities()
	// Shared subscriptions ($share/collectors/…) let collector replicas
	// split the agents' messages. mochi offers them to MQTT 3.1.1 clients
	// too; say so here rather than rely on the default.
	caps.SharedSubAvailable = 1
	// Bound what one publish can make the broker hold in memory. The
	// limit is above wire.MaxPayloadBytes on purpose: a payload a little
	// too large still reaches the collector, which keeps it as a dead
	// letter that says why; a huge one is refused at the door.
	caps.MaximumPacketSize = MaxPacketBytes
	// The collector acknowledges a message only once it is committed, so
	// during a database outage its unacknowledged messages pile up in
	// flight, each held in memory on both sides. mochi drops what goes
	// past this bound (the agents re-send what is not acknowledged); its
	// default of 8192 would let the pile grow very large.
	caps.MaximumInflight = 1024
	server := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       logger,
		// $SYS statistics are for humans on a dashboard; once a minute is
		// plenty.
		SysTopicResendInterval: 60,
	})
	access := newAccessHook(server, o.passwords, logger)
	if err := server.AddHook(access, nil); err != nil {
		return nil, fmt.Errorf("broker: add access rules: %w", err)
	}
	inner, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("broker: listen on %s: %w", addr, err)
	}
	listener := &trackingListener{Listener: inner, conns: map[net.Conn]struct{}{}}
	if err := server.AddListener(listeners.NewNet("tcp", listener)); err != nil {
		listener.Close()
		return nil, fmt.Errorf("broker: listen on %s: %w", addr, err)
	}
	if err := server.Serve(); err != nil {
		server.Close()
		return nil, fmt.Errorf("broker: serve: %w", err)
	}
	return &Broker{server: server, listener: listener, access: access}, nil
}

// CollectorLogin is the user name and password with which the collector
// itself connects: a password made at Start, known to this process only.
func (b *Broker) CollectorLogin() (user, password string) {
	return CollectorUser, string(b.access.collectorPassword)
}

// Addr returns the address the broker listens on, with the port it bound.
func (b *Broker) Addr() string { return b.listener.Addr().String() }

// LocalURL returns the URL a client on this machine dials to reach the
// broker: tcp://host:port, with the loopback address in place of a
// wildcard one (":1883" listens on every interface, but is no place to
// dial).
func (b *Broker) LocalURL() string {
	host, port, err := net.SplitHostPort(b.Addr())
	if err != nil {
		return "tcp://" + b.Addr()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "tcp://" + net.JoinHostPort(host, port)
}

// Close disconnects every client and stops listening.
//
// mochi's Close waits for every connection it accepted, but disconnects
// only the clients it has registered: a connection accepted while it shuts
// down, or one that never sends CONNECT, would keep it waiting forever. So
// after a grace time Close closes whatever connections are left. And
// mochi's Close races with a connection it is still setting up (its
// accept goroutine reads the server's fields unsynchronised): so Close
// first stops accepting and waits, within the grace time, until every
// connection taken has been set up (its first read).
func (b *Broker) Close() error {
	if b == nil {
		return nil
	}
	b.listener.Listener.Close() // mochi's accept loop ends on the error
	b.listener.waitSetUp(closeGrace)
	done := make(chan error, 1)
	go func() { done <- b.server.Close() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(closeGrace):
		b.listener.closeConns()
		err = <-done
	}
	b.listener.closeConns()
	if err != nil {
		return fmt.Errorf("broker: close: %w", err)
	}
	return nil
}

// trackingListener remembers the connections it accepted until they are
// closed, so that Close can end them.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, owner: l, setUp: make(chan struct{})}
	l.mu.Lock()
	l.conns[tc] = struct{}{}
	l.mu.Unlock()
	return tc, nil
}

func (l *trackingListener) closeConns() {
	l.mu.Lock()
	conns := make([]net.Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// waitSetUp waits until every connection taken has been read from or
// closed, or the time is up.
func (l *trackingListener) waitSetUp(limit time.Duration) {
	l.mu.Lock()
	conns := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c.(*trackedConn))
	}
	l.mu.Unlock()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for _, c := range conns {
		select {
		case <-c.setUp:
		case <-deadline.C:
			return
		}
	}
}

type trackedConn struct {
	net.Conn
	owner     *trackingListener
	once      sync.Once
	setUpOnce sync.Once
	setUp     chan struct{} // closed at the first read or at Close
}

// Read marks the connection set up: the broker reads from it once it
// has made its client.
func (c *trackedConn) Read(p []byte) (int, error) {
	c.setUpOnce.Do(func() { close(c.setUp) })
	return c.Conn.Read(p)
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.owner.mu.Lock()
		delete(c.owner.conns, c)
		c.owner.mu.Unlock()
	})
	c.setUpOnce.Do(func() { close(c.setUp) })
	return c.Conn.Close()
}
