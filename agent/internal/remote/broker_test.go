package remote

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/meterline/meterline/shared/topic"
)

// brokerWait bounds every wait on the broker, so that a broken broker
// fails the test instead of hanging it; it is not a measure of speed.
const brokerWait = 30 * time.Second

// pahoSubscriber is the Subscriber the uplink provides, cut down to the
// test: it subscribes at QoS 1 to the agent's topic of a kind and calls
// the handler on a goroutine of its own, in arrival order.
type pahoSubscriber struct {
	t       *testing.T
	client  mqtt.Client
	agentID string
}

func (s *pahoSubscriber) Subscribe(kind topic.Kind, handle func([]byte)) {
	queue := make(chan []byte, 64)
	go func() {
		for payload := range queue {
			handle(payload)
		}
	}()
	tok := s.client.Subscribe(topic.For(s.agentID, kind), 1, func(_ mqtt.Client, m mqtt.Message) { queue <- m.Payload() })
	if !tok.WaitTimeout(brokerWait) || tok.Error() != nil {
		s.t.Fatalf("subscribe to %s: %v", kind, tok.Error())
	}
}

func connect(t *testing.T, url, clientID string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(brokerWait) || tok.Error() != nil {
		t.Fatalf("connect to %s: %v", url, tok.Error())
	}
	return c
}

func publish(t *testing.T, c mqtt.Client, topicName string, retained bool, payload string) {
	t.Helper()
	if tok := c.Publish(topicName, 1, retained, payload); !tok.WaitTimeout(brokerWait) || tok.Error() != nil {
		t.Fatalf("publish to %s: %v", topicName, tok.Error())
	}
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(brokerWait):
		t.Fatalf("%s: nothing after %s", what, brokerWait)
	}
}

// TestOverRealBroker publishes a retained configuration before the agent
// subscribes (as a collector does for an agent that is offline), then a
// command, then clears the configuration, through the broker at
// METERLINE_TEST_MQTT_URL.
func TestOverRealBroker(t *testing.T) {
	url := os.Getenv("METERLINE_TEST_MQTT_URL")
	if url == "" {
		t.Skip("METERLINE_TEST_MQTT_URL is not set: set it to an MQTT broker such as tcp://127.0.0.1:1883 (Mosquitto) to test remote configuration over MQTT")
	}
	agentID := fmt.Sprintf("remote-test-%d", time.Now().UnixNano())
	configTopic := topic.For(agentID, topic.Config)

	collector := connect(t, url, agentID+"-collector")
	t.Cleanup(func() {
		// Leave no retained config behind, whatever happened.
		collector.Publish(configTopic, 1, true, []byte{}).WaitTimeout(brokerWait)
		collector.Disconnect(250)
	})
	publish(t, collector, configTopic, true, `{"schema":1,"poll_interval":"30s","targets":["127.0.0.7"],"credentials":["lab"]}`)

	dir := t.TempDir()
	pollNow := make(chan struct{}, 1)
	c := New(Options{Local: local(), Allow: testAllow, StateDir: dir, PollNow: pollNow, Log: discard})
	changes := c.Changes()
	agent := connect(t, url, agentID)
	t.Cleanup(func() { agent.Disconnect(250) })
	c.Attach(&pahoSubscriber{t: t, client: agent, agentID: agentID})

	waitFor(t, changes, "retained config")
	want := with(func(s *Settings) {
		s.PollInterval, s.Targets, s.Credentials = 30*time.Second, []string{"127.0.0.7:161"}, []string{"lab"}
	})
	if got := c.Settings(); !got.Equal(want) {
		t.Errorf("settings %+v, want %+v", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile)); err != nil {
		t.Errorf("remote config not saved: %v", err)
	}
	<-pollNow // the new targets asked for a round; drain it to see the command's

	publish(t, collector, topic.For(agentID, topic.Commands), false, `{"schema":1,"id":"c-1","name":"poll_now"}`)
	waitFor(t, pollNow, "poll_now command")

	publish(t, collector, configTopic, true, "")
	waitFor(t, changes, "cleared config")
	if got := c.Settings(); !got.Equal(local()) {
		t.Errorf("after the clear: %+v, want the local settings", got)
	}
}
