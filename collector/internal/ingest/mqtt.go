package ingest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/meterline/meterline/shared/topic"
)

// ClientConfig says how to reach the broker.
type ClientConfig struct {
	// BrokerURL is tcp://host:port or ssl://host:port.
	BrokerURL string
	Username  string
	Password  string
	// TLS configures a TLS broker URL (ssl://, tls://, mqtts://): the CA
	// to trust and the client certificate. Nil leaves paho's default (the
	// system roots); plain tcp:// ignores it.
	TLS *tls.Config
	// ClientID must stay the same across restarts for the broker to resume
	// the session and deliver what arrived meanwhile.
	ClientID string
	// ShareGroup is the shared-subscription group of the replicas.
	ShareGroup string
	// Timeout bounds every wait on the broker: connect, subscribe,
	// publish. Zero means 10 seconds.
	Timeout time.Duration
}

// Client is the collector's MQTT connection: a persistent session that
// subscribes, on every connect, to what the agents send, and publishes
// their acknowledgements. It hands each message to a handler and leaves
// the MQTT acknowledgement to it.
type Client struct {
	cfg    ClientConfig
	logger *slog.Logger
	paho   paho.Client
	// handle takes each message; set before connecting, read only after.
	handle func(Message)
	// subscribed receives the outcome of the first subscription, so
	// Connect can report a broker that refuses it.
	subscribed chan error
	firstSub   sync.Once
}

// filters are the shared subscriptions of the collector group.
func (c ClientConfig) filters() map[string]byte {
	return map[string]byte{
		topic.Shared(c.ShareGroup, topic.Reads):  1,
		topic.Shared(c.ShareGroup, topic.Status): 1,
		topic.Shared(c.ShareGroup, topic.Events): 1,
	}
}

// NewClient prepares a client; Connect connects it.
func NewClient(cfg ClientConfig, logger *slog.Logger) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	c := &Client{cfg: cfg, logger: logger, subscribed: make(chan error, 1)}
	onMessage := func(_ paho.Client, m paho.Message) { c.handle(m) }

	opts := paho.NewClientOptions().
		AddBroker(cfg.BrokerURL).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetProtocolVersion(4). // MQTT 3.1.1, what every broker speaks
		// A persistent session: the broker keeps the subscriptions and
		// queues QoS 1 messages while the collector is away.
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(30 * time.Second).
		SetConnectTimeout(cfg.Timeout).
		SetWriteTimeout(cfg.Timeout).
		SetKeepAlive(30 * time.Second).
		// Handlers run in their own goroutines and only enqueue: a handler
		// that blocks paho's router stalls or deadlocks the client (paho
		// #427, #474).
		SetOrderMatters(false).
		// The PUBACK goes out once the message is committed, not before.
		SetAutoAckDisabled(true).
		// Messages the broker queued for the session can arrive before
		// the subscription is renewed; the default handler takes them.
		SetDefaultPublishHandler(onMessage).
		SetOnConnectHandler(c.subscribe).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			logger.Warn("mqtt connection lost; reconnecting", "error", err)
		}).
		SetReconnectingHandler(func(paho.Client, *paho.ClientOptions) {
			logger.Info("mqtt reconnecting", "broker", c.broker())
		})
	if cfg.TLS != nil {
		opts.SetTLSConfig(cfg.TLS)
	}
	c.paho = paho.NewClient(opts)
	return c
}

// Connect connects to the broker, subscribes and starts handing messages
// to handle, which must not block for long. It returns once subscribed, or
// with the error that prevented it; after that paho reconnects by itself
// and the client resubscribes.
func (c *Client) Connect(handle func(Message)) error {
	c.handle = handle
	timeout := c.cfg.Timeout
	tok := c.paho.Connect()
	if !tok.WaitTimeout(timeout) {
		c.paho.Disconnect(0)
		return fmt.Errorf("ingest: connect to %s: no answer in %s", c.broker(), timeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("ingest: connect to %s: %w", c.broker(), err)
	}
	select {
	case err := <-c.subscribed:
		if err != nil {
			c.paho.Disconnect(0)
			return err
		}
	case <-time.After(2 * timeout): // the handler's own wait is bounded by timeout
		c.paho.Disconnect(0)
		return fmt.Errorf("ingest: subscribe on %s: no answer in %s", c.broker(), timeout)
	}
	return nil
}

// subscribe runs on every (re)connect: with a persistent session the
// broker remembers the subscriptions, but a broker restarted without its
// store does not.
func (c *Client) subscribe(client paho.Client) {
	filters := c.cfg.filters()
	err := waitSubscribed(client.SubscribeMultiple(filters, nil), c.cfg.Timeout)
	if err != nil {
		c.logger.Error("mqtt subscribe failed; agents' messages will not arrive", "error", err)
	} else {
		names := make([]string, 0, len(filters))
		for f := range filters {
			names = append(names, f)
		}
		c.logger.Info("mqtt subscribed", "client_id", c.cfg.ClientID, "filters", names)
	}
	c.firstSub.Do(func() { c.subscribed <- err })
}

func waitSubscribed(tok paho.Token, timeout time.Duration) error {
	if !tok.WaitTimeout(timeout) {
		return fmt.Errorf("ingest: subscribe: no answer in %s", timeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("ingest: subscribe: %w", err)
	}
	var errs []error
	if st, ok := tok.(*paho.SubscribeToken); ok {
		for filter, code := range st.Result() {
			if code > 2 { // 0x80: the broker refused this filter
				errs = append(errs, fmt.Errorf("ingest: subscribe %s: refused by the broker (code %#x)", filter, code))
			}
		}
	}
	return errors.Join(errs...)
}

// broker names the broker for errors and logs, without the credentials a
// URL may carry.
func (c *Client) broker() string {
	u, err := url.Parse(c.cfg.BrokerURL)
	if err != nil {
		return "the broker"
	}
	u.User = nil
	return u.String()
}

// Publish publishes at QoS 1 and waits for the broker's PUBACK.
func (c *Client) Publish(topicName string, payload []byte) error {
	tok := c.paho.Publish(topicName, 1, false, payload)
	if !tok.WaitTimeout(c.cfg.Timeout) {
		return fmt.Errorf("ingest: publish to %s: no answer in %s", topicName, c.cfg.Timeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("ingest: publish to %s: %w", topicName, err)
	}
	return nil
}

// Connected reports whether the connection to the broker is up (paho
// reconnects by itself when it is not).
func (c *Client) Connected() bool { return c.paho.IsConnectionOpen() }

// Disconnect closes the connection, leaving up to a second for the
// acknowledgements in flight to go out. The session stays on the broker.
func (c *Client) Disconnect() {
	c.paho.Disconnect(1000)
}
