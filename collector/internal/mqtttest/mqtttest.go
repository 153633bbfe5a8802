// Package mqtttest connects test clients to an MQTT broker: an agent's
// side of the conversation, made with paho as the agents make it.
package mqtttest

import (
	"fmt"
	"os"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// EnvMQTTURL names the external broker tests may use.
const EnvMQTTURL = "METERLINE_TEST_MQTT_URL"

// Wait bounds every wait on the broker. It is a guard against a hung test,
// not a measure of anything: on a healthy machine every wait ends in
// milliseconds.
const Wait = 30 * time.Second

// ExternalURL returns the URL of the external broker, or skips the test
// when METERLINE_TEST_MQTT_URL is unset.
func ExternalURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvMQTTURL)
	if u == "" {
		tb.Skipf("%s is not set: skipping the external broker test (e.g. %s=tcp://127.0.0.1:1883)", EnvMQTTURL, EnvMQTTURL)
	}
	return u
}

// Connect connects an MQTT 3.1.1 client with a clean session and
// disconnects it at the end of the test.
func Connect(tb testing.TB, brokerURL, clientID string) paho.Client {
	tb.Helper()
	c, err := connect(tb, brokerURL, clientID, Login{}, true)
	if err != nil {
		tb.Fatalf("connect %s to %s: %v", clientID, brokerURL, err)
	}
	return c
}

// Login is what a client presents in its CONNECT besides its id: a user
// name and password, and a retained QoS 1 Last Will when WillTopic is set.
type Login struct {
	User, Password  string
	WillTopic, Will string
}

// ConnectAs is Connect, logged in, and without reconnecting (TryConnect).
func ConnectAs(tb testing.TB, brokerURL, clientID string, login Login) paho.Client {
	tb.Helper()
	c, err := TryConnect(tb, brokerURL, clientID, login)
	if err != nil {
		tb.Fatalf("connect %s to %s: %v", clientID, brokerURL, err)
	}
	return c
}

// TryConnect connects as ConnectAs does but returns the error, a refused
// login for one, instead of failing the test. The client does not
// reconnect: a broker that disconnects it (for a forbidden publish) fails
// what it was waiting for.
func TryConnect(tb testing.TB, brokerURL, clientID string, login Login) (paho.Client, error) {
	tb.Helper()
	return connect(tb, brokerURL, clientID, login, false)
}

func connect(tb testing.TB, brokerURL, clientID string, login Login, reconnect bool) (paho.Client, error) {
	tb.Helper()
	opts := paho.NewClientOptions().
		AddBroker(brokerURL).
		SetClientID(clientID).
		SetUsername(login.User).
		SetPassword(login.Password).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(reconnect).
		SetOrderMatters(false).
		SetConnectTimeout(Wait)
	if login.WillTopic != "" {
		opts.SetWill(login.WillTopic, login.Will, 1, true)
	}
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(Wait) {
		return nil, fmt.Errorf("connect: timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	tb.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

// Subscribe subscribes at QoS 1 and returns the messages received, in a
// channel large enough for a test's worth of them.
func Subscribe(tb testing.TB, c paho.Client, filter string) <-chan paho.Message {
	tb.Helper()
	msgs := make(chan paho.Message, 1024)
	tok := c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) { msgs <- m })
	if !tok.WaitTimeout(Wait) {
		tb.Fatalf("subscribe %s: timed out", filter)
	}
	if err := tok.Error(); err != nil {
		tb.Fatalf("subscribe %s: %v", filter, err)
	}
	return msgs
}

// Publish publishes at QoS 1 and waits for the broker's PUBACK.
func Publish(tb testing.TB, c paho.Client, topic string, payload []byte) {
	tb.Helper()
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(Wait) {
		tb.Fatalf("publish to %s: timed out", topic)
	}
	if err := tok.Error(); err != nil {
		tb.Fatalf("publish to %s: %v", topic, err)
	}
}

// Receive returns the next message, failing the test if none comes.
func Receive(tb testing.TB, msgs <-chan paho.Message) paho.Message {
	tb.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(Wait):
		tb.Fatal("no message received")
		return nil
	}
}
