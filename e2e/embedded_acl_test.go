package e2e

import (
	"crypto/rand"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// TestEmbeddedBrokerACL is TestACLBroker for the collector's embedded
// broker: given the password file that deploy/mosquitto/add-agent.sh
// makes, it refuses strangers and holds each agent to its own topics, and
// the real agent's reads still reach the collector's database.
func TestEmbeddedBrokerACL(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_passwd"); err != nil {
		t.Skip("mosquitto_passwd is not on PATH (add-agent.sh needs it): apt-get install mosquitto")
	}
	const agentA, agentB = "agent-a", "agent-b"
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	passwords := map[string]string{}
	for _, agent := range []string{agentA, agentB} {
		passwords[agent] = strings.TrimSpace(runDeployScript(t, "add-agent.sh", "-f", passwd, agent))
	}
	addr := freeTCPAddr(t)
	url := "tcp://" + addr
	startReady(t, 30*time.Second, "meterline-collector", "-data-dir", dir, "-broker-listen", addr, "-broker-password-file", passwd,
		"-client-id", "embedded-acl-collector")
	login := func(agent string) pahoLogin { return pahoLogin{user: agent, password: passwords[agent]} }

	t.Run("strangers are refused", func(t *testing.T) {
		for _, l := range []pahoLogin{{}, {user: agentA, password: "guess"}, {user: agentA, password: passwords[agentB]}, {user: "meterline-collector", password: passwords[agentA]}} {
			if c, err := pahoConnect(url, l); err == nil {
				c.Disconnect(0)
				t.Errorf("the broker accepted user %q with password %q", l.user, l.password)
			}
		}
	})

	t.Run("agent cannot forge another agent's ack or config", func(t *testing.T) {
		a := mustPahoConnect(t, url, login(agentA))
		toA := make(chan paho.Message, 100)
		for _, k := range []topic.Kind{topic.Acks, topic.Config} {
			if code := pahoSubscribe(t, a, topic.For(agentA, k), toA); code != 1 {
				t.Fatalf("agent %s subscribing to its %s: SUBACK %#x", agentA, k, code)
			}
		}
		forged, err := wire.Encode(wire.Ack{Schema: wire.SchemaVersion, AgentID: agentA, Sequences: []uint64{1, 2, 3}})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct {
			kind     topic.Kind
			retained bool
		}{{topic.Acks, false}, {topic.Config, true}, {topic.Reads, false}} {
			b := mustPahoConnect(t, url, login(agentB))
			tok := b.Publish(topic.For(agentA, f.kind), 1, f.retained, forged)
			if !tok.WaitTimeout(30*time.Second) || tok.Error() == nil {
				t.Errorf("agent %s published on %s: want the connection closed", agentB, topic.For(agentA, f.kind))
			}
		}
		// The refusal comes before anything is delivered; so the first
		// message agent-a gets is the collector's ack of its own batch.
		now := time.Now().UTC().Truncate(time.Second)
		batch, err := wire.Encode(wire.ReadBatch{Schema: wire.SchemaVersion, AgentID: agentA, Sequence: 7, SentAt: now,
			Reads: []wire.DeviceRead{{Serial: "SN-ACL", Vendor: "Xerox", Address: "127.0.2.10", ReadAt: now.Add(-time.Minute),
				Counters: []wire.Counter{{Kind: domain.CounterTotal, Value: 1000}}}}})
		if err != nil {
			t.Fatal(err)
		}
		if tok := a.Publish(topic.For(agentA, topic.Reads), 1, false, batch); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("agent %s publishes its reads: %v", agentA, tok.Error())
		}
		select {
		case m := <-toA:
			ack, err := wire.DecodeAck(m.Payload())
			if m.Topic() != topic.For(agentA, topic.Acks) || err != nil || ack.AgentID != agentA || len(ack.Sequences) != 1 || ack.Sequences[0] != 7 {
				t.Errorf("agent %s first received %s %q (%v), want the collector's ack of batch 7", agentA, m.Topic(), m.Payload(), err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("agent %s: no ack of its batch", agentA)
		}
	})

	t.Run("agent cannot subscribe to another agent's topics", func(t *testing.T) {
		a := mustPahoConnect(t, url, login(agentA))
		for _, f := range []string{topic.For(agentB, topic.Acks), topic.For(agentB, topic.Config), topic.For(agentB, topic.Reads),
			topic.Prefix + "+/" + string(topic.Acks), "#", topic.Shared(topic.DefaultShareGroup, topic.Reads)} {
			if code := pahoSubscribe(t, a, f, nil); code != 0x80 {
				t.Errorf("agent %s subscribing to %s: SUBACK %#x, want 0x80 (refused)", agentA, f, code)
			}
		}
	})

	t.Run("real agent", func(t *testing.T) {
		conf := filepath.Join(dir, "agent.toml")
		writeFile(t, conf, fmt.Sprintf(`agent_id = %q
state_dir = %q
targets = [%q]

[mqtt]
url = %q
username = %q
password = %q

[snmp]
timeout = "1s"
retries = 0
`, agentB, filepath.Join(dir, "agent"), freeTCPAddr(t), url, agentB, passwords[agentB]))
		start(t, "meterline-agent", "run", "--config", conf)
		db := openDB(t, "sqlite:"+filepath.Join(dir, "meterline.db"))
		waitFor(t, "agent-b online in the collector's database", 30*time.Second, func() (bool, error) {
			var online bool
			err := db.QueryRow("SELECT online FROM agents WHERE id = ?", agentB).Scan(&online)
			return err == nil && online, err
		})
	})
}

type pahoLogin struct{ user, password string }

// pahoConnect connects an MQTT 3.1.1 client that does not reconnect: a
// broker closing it fails what it waits for.
func pahoConnect(url string, l pahoLogin) (paho.Client, error) {
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("e2e-" + rand.Text()).
		SetUsername(l.user).SetPassword(l.password).SetProtocolVersion(4).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectTimeout(30 * time.Second))
	tok := c.Connect()
	if !tok.WaitTimeout(30 * time.Second) {
		return nil, fmt.Errorf("connect: no answer")
	}
	return c, tok.Error()
}

func mustPahoConnect(t *testing.T, url string, l pahoLogin) paho.Client {
	t.Helper()
	c, err := pahoConnect(url, l)
	if err != nil {
		t.Fatalf("connect as %q: %v", l.user, err)
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// pahoSubscribe subscribes at QoS 1, sending the messages to msgs, and
// returns the SUBACK's code: 0x80 is a refusal.
func pahoSubscribe(t *testing.T, c paho.Client, filter string, msgs chan<- paho.Message) byte {
	t.Helper()
	tok := c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		if msgs != nil {
			msgs <- m
		}
	})
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe to %s: %v", filter, tok.Error())
	}
	// paho keys a shared subscription's result without its $share/group/.
	for _, code := range tok.(*paho.SubscribeToken).Result() {
		return code
	}
	t.Fatalf("subscribe to %s: no result", filter)
	return 0
}
