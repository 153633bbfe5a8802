package broker

import (
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/meterline/meterline/collector/internal/mqtttest"
	"github.com/meterline/meterline/shared/topic"
)

const agentA, agentB = "agent-a", "agent-b"

// forbidden starts every payload the rules must stop; a client that
// receives one shows a hole in them.
const forbidden = "forbidden: "

var (
	fromAgents = []topic.Kind{topic.Reads, topic.Status, topic.Events}
	toAgents   = []topic.Kind{topic.Config, topic.Commands, topic.Acks}
)

// passwordBroker is a broker started with a password file of agentA and
// agentB, as a broker open to the network must be.
type passwordBroker struct {
	*Broker
	passwords map[string]string
}

func startPasswordBroker(t *testing.T) passwordBroker {
	t.Helper()
	pb := passwordBroker{passwords: map[string]string{agentA: rand.Text(), agentB: rand.Text()}}
	var file strings.Builder
	for user, pw := range pb.passwords {
		line, err := HashPassword(user, pw)
		if err != nil {
			t.Fatal(err)
		}
		file.WriteString(line + "\n")
	}
	passwords, err := ParsePasswords(strings.NewReader(file.String()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Start("127.0.0.1:0", slog.New(slog.DiscardHandler), WithPasswords(passwords))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	pb.Broker = b
	return pb
}

func (pb passwordBroker) agent(t *testing.T, id string) paho.Client {
	t.Helper()
	return mqtttest.ConnectAs(t, pb.LocalURL(), id+"-"+rand.Text(), mqtttest.Login{User: id, Password: pb.passwords[id]})
}

// collector connects as the collector does, with the login of this process.
func collector(t *testing.T, b *Broker) paho.Client {
	t.Helper()
	user, pw := b.CollectorLogin()
	return mqtttest.ConnectAs(t, b.LocalURL(), "collector-"+rand.Text(), mqtttest.Login{User: user, Password: pw})
}

// expectMessage reads msgs until payload arrives on topicName; a forbidden
// message on the way fails the test.
func expectMessage(t *testing.T, msgs <-chan paho.Message, topicName, payload string) {
	t.Helper()
	for {
		m := mqtttest.Receive(t, msgs)
		if strings.HasPrefix(string(m.Payload()), forbidden) {
			t.Errorf("received %q on %s: the rules should have stopped it", m.Payload(), m.Topic())
			continue
		}
		if m.Topic() == topicName && string(m.Payload()) == payload {
			return
		}
	}
}

// refusedPublish publishes at QoS 1 on a connection of its own, which the
// broker must close instead of acknowledging (MQTT 3.1.1 has no negative
// PUBACK).
func refusedPublish(t *testing.T, c paho.Client, topicName string, retained bool) {
	t.Helper()
	tok := c.Publish(topicName, 1, retained, forbidden+topicName)
	if !tok.WaitTimeout(mqtttest.Wait) {
		t.Fatalf("publish on %s: no answer", topicName)
	}
	if tok.Error() == nil {
		t.Errorf("publish on %s was acknowledged, want the connection closed", topicName)
	}
}

// subscribeResult returns the SUBACK's code for filter: 0x80 is a refusal.
func subscribeResult(t *testing.T, c paho.Client, filter string) byte {
	t.Helper()
	tok := c.Subscribe(filter, 1, func(paho.Client, paho.Message) {})
	if !tok.WaitTimeout(mqtttest.Wait) {
		t.Fatalf("subscribe to %s: no answer", filter)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("subscribe to %s: %v", filter, err)
	}
	// paho keys a shared subscription's result by the filter without its
	// $share/group/ prefix: take the one result there is.
	results := tok.(*paho.SubscribeToken).Result()
	if len(results) != 1 {
		t.Fatalf("subscribe to %s: results %v, want one", filter, results)
	}
	for _, code := range results {
		return code
	}
	return 0
}

// TestAgentsKeepToTheirOwnTopics is the production broker's ACL
// (deploy/mosquitto/acl, checked by e2e TestACLBroker) on the embedded one,
// over real sockets.
func TestAgentsKeepToTheirOwnTopics(t *testing.T) {
	b := startPasswordBroker(t)

	t.Run("agent and collector use their own topics", func(t *testing.T) {
		coll := collector(t, b.Broker)
		fromAgent := mqtttest.Subscribe(t, coll, topic.Shared(topic.DefaultShareGroup, topic.Reads))
		a := b.agent(t, agentA)
		acks := mqtttest.Subscribe(t, a, topic.For(agentA, topic.Acks))
		config := mqtttest.Subscribe(t, a, topic.For(agentA, topic.Config))

		mqtttest.Publish(t, a, topic.For(agentA, topic.Reads), []byte("batch 1"))
		expectMessage(t, fromAgent, topic.For(agentA, topic.Reads), "batch 1")
		mqtttest.Publish(t, coll, topic.For(agentA, topic.Acks), []byte("ack 1"))
		expectMessage(t, acks, topic.For(agentA, topic.Acks), "ack 1")
		if tok := coll.Publish(topic.For(agentA, topic.Config), 1, true, "config 1"); !tok.WaitTimeout(mqtttest.Wait) || tok.Error() != nil {
			t.Fatalf("collector publishes a retained config: %v", tok.Error())
		}
		expectMessage(t, config, topic.For(agentA, topic.Config), "config 1")
	})

	t.Run("agent cannot publish as another agent or as the collector", func(t *testing.T) {
		coll := collector(t, b.Broker)
		everything := mqtttest.Subscribe(t, coll, "#")
		var refused []string
		for _, k := range append(fromAgents, toAgents...) {
			refused = append(refused, topic.For(agentB, k))
		}
		for _, k := range toAgents {
			refused = append(refused, topic.For(agentA, k))
		}
		refused = append(refused, "meterline/v1/other", topic.For(agentA, topic.Reads)+"/more")
		for _, name := range refused {
			k := name[strings.LastIndex(name, "/")+1:]
			retained := k == string(topic.Config) || k == string(topic.Status)
			refusedPublish(t, b.agent(t, agentA), name, retained)
		}
		// What the broker took is delivered before it answers; so had it
		// taken a forbidden message, it would arrive before this marker.
		mqtttest.Publish(t, b.agent(t, agentA), topic.For(agentA, topic.Reads), []byte("marker: a"))
		expectMessage(t, everything, topic.For(agentA, topic.Reads), "marker: a")

		// Nor was any of it kept as a retained message: retained messages
		// come right after each SUBACK, in the order of the subscriptions.
		mqtttest.Publish(t, coll, topic.For(agentB, topic.Events), []byte("unused"))
		if tok := coll.Publish(topic.For(agentB, topic.Commands), 1, true, "marker: retained"); !tok.WaitTimeout(mqtttest.Wait) || tok.Error() != nil {
			t.Fatalf("collector publishes a retained marker: %v", tok.Error())
		}
		reader := collector(t, b.Broker)
		msgs := mqtttest.Subscribe(t, reader, topic.For(agentB, topic.Config))
		mqtttest.Subscribe(t, reader, topic.For(agentB, topic.Status))
		later := mqtttest.Subscribe(t, reader, topic.For(agentB, topic.Commands))
		expectMessage(t, later, topic.For(agentB, topic.Commands), "marker: retained")
		select {
		case m := <-msgs:
			t.Errorf("retained %q on %s: the rules should have stopped it", m.Payload(), m.Topic())
		default:
		}
	})

	t.Run("agent cannot subscribe to another agent's topics", func(t *testing.T) {
		a := b.agent(t, agentA)
		var filters []string
		for _, k := range append(fromAgents, toAgents...) {
			filters = append(filters, topic.For(agentB, k))
		}
		for _, k := range fromAgents {
			filters = append(filters, topic.For(agentA, k))
		}
		filters = append(filters, topic.Prefix+"+/"+string(topic.Acks), topic.Prefix+agentA+"/#", topic.Prefix+"#", "#",
			topic.Shared(topic.DefaultShareGroup, topic.Reads), "$SYS/#")
		for _, f := range filters {
			if code := subscribeResult(t, a, f); code != 0x80 {
				t.Errorf("agent %s subscribing to %s: SUBACK code %#x, want 0x80 (refused)", agentA, f, code)
			}
		}
		if code := subscribeResult(t, a, topic.For(agentA, topic.Acks)); code != 1 {
			t.Errorf("agent %s subscribing to its acks: SUBACK code %#x, want 1", agentA, code)
		}
	})

	t.Run("refused logins", func(t *testing.T) {
		user, collectorPassword := b.CollectorLogin()
		tests := []struct {
			name  string
			login mqtttest.Login
		}{
			{"anonymous", mqtttest.Login{}},
			{"wrong password", mqtttest.Login{User: agentA, Password: "not-the-password"}},
			{"another agent's password", mqtttest.Login{User: agentA, Password: b.passwords[agentB]}},
			{"agent without password", mqtttest.Login{User: agentA}},
			{"unknown user", mqtttest.Login{User: "agent-unknown", Password: "whatever"}},
			{"collector user with an agent's password", mqtttest.Login{User: user, Password: b.passwords[agentA]}},
			{"agent with the collector's password", mqtttest.Login{User: agentA, Password: collectorPassword}},
			{"Last Will on another agent's status", mqtttest.Login{User: agentA, Password: b.passwords[agentA],
				WillTopic: topic.For(agentB, topic.Status), Will: forbidden + "will"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := mqtttest.TryConnect(t, b.LocalURL(), "refused-"+rand.Text(), tt.login); err == nil {
					t.Errorf("the broker accepted %+v", tt.login)
				}
			})
		}
	})

	t.Run("agent cannot take the collector's client id", func(t *testing.T) {
		user, pw := b.CollectorLogin()
		const id = "meterline-collector-host"
		coll := mqtttest.ConnectAs(t, b.LocalURL(), id, mqtttest.Login{User: user, Password: pw})
		if _, err := mqtttest.TryConnect(t, b.LocalURL(), id, mqtttest.Login{User: agentA, Password: b.passwords[agentA]}); err == nil {
			t.Error("an agent took over the collector's client id")
		}
		if !coll.IsConnectionOpen() {
			t.Error("the collector was disconnected")
		}
	})
}

// TestLoopbackWithoutPasswords: a single-box trial broker lets anyone on
// the machine in, but a client that logs in as an agent is held to that
// agent's topics, and the collector's user name needs its password.
func TestLoopbackWithoutPasswords(t *testing.T) {
	b := startBroker(t)
	anonymous := mqtttest.Connect(t, b.LocalURL(), "anonymous")
	everything := mqtttest.Subscribe(t, anonymous, "#")

	a := mqtttest.ConnectAs(t, b.LocalURL(), "a-"+rand.Text(), mqtttest.Login{User: agentA})
	refusedPublish(t, a, topic.For(agentB, topic.Acks), false)
	a = mqtttest.ConnectAs(t, b.LocalURL(), "a-"+rand.Text(), mqtttest.Login{User: agentA})
	if code := subscribeResult(t, a, topic.For(agentB, topic.Config)); code != 0x80 {
		t.Errorf("agent %s subscribing to %s's config: SUBACK code %#x, want 0x80", agentA, agentB, code)
	}
	mqtttest.Publish(t, a, topic.For(agentA, topic.Reads), []byte("marker"))
	expectMessage(t, everything, topic.For(agentA, topic.Reads), "marker")

	if _, err := mqtttest.TryConnect(t, b.LocalURL(), "c-"+rand.Text(), mqtttest.Login{User: CollectorUser, Password: "guess"}); err == nil {
		t.Error("the collector's user name was accepted without its password")
	}
	if _, err := mqtttest.TryConnect(t, b.LocalURL(), "c-"+rand.Text(), mqtttest.Login{User: "not/an-agent"}); err == nil {
		t.Error("a user name that is no agent id was accepted")
	}
}

func TestLoopbackOnly(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:1883", true},
		{"127.0.0.2:1883", true},
		{"[::1]:1883", true},
		{"localhost:1883", true},
		{":1883", false},
		{"0.0.0.0:1883", false},
		{"[::]:1883", false},
		{"192.0.2.10:1883", false},
		{"broker.example.com:1883", false},
		{"1883", false},
	}
	for _, tt := range tests {
		if got := LoopbackOnly(tt.addr); got != tt.want {
			t.Errorf("LoopbackOnly(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

// TestStartRefusesTheNetworkWithoutPasswords: no socket is opened (the
// check comes first), so no address of the network is touched.
func TestStartRefusesTheNetworkWithoutPasswords(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.10:0"} {
		b, err := Start(addr, slog.New(slog.DiscardHandler))
		if err == nil {
			b.Close()
			t.Errorf("Start(%q) without passwords succeeded", addr)
			continue
		}
		if !errors.Is(err, ErrPasswordsRequired) {
			t.Errorf("Start(%q) = %v, want ErrPasswordsRequired", addr, err)
		}
	}
}
