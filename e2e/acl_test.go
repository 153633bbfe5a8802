package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/topic"
)

// The broker of the datacenter, run from deploy/mosquitto as shipped (only
// its ports and file locations changed), with certificates and users made
// by the scripts shipped beside it: evidence that the ACL keeps each agent
// to its own topics and that the collector user can do its job.

// deployMosquitto is the shipped broker configuration, from this package.
const deployMosquitto = "../deploy/mosquitto"

const (
	collectorUser = "meterline-collector"
	// forbidden starts every payload the ACL must stop; a client that
	// receives one shows a hole in the ACL.
	forbidden = "forbidden: "
)

// aclBroker is a private Mosquitto started from the shipped configuration.
type aclBroker struct {
	addr      string // the TLS listener, 127.0.0.1:port
	certDir   string // ca.crt, server.crt, server.key
	tls       *tls.Config
	passwords map[string]string // by user name
}

func TestACLBroker(t *testing.T) {
	b := startACLBroker(t)
	agentA, agentB := "agent-a", "agent-b"
	collectorKinds := []topic.Kind{topic.Reads, topic.Status, topic.Events}
	agentKinds := []topic.Kind{topic.Config, topic.Commands, topic.Acks}

	// subscribeAll subscribes c to each kind of agent's topics.
	subscribeAll := func(t *testing.T, c *mqttClient, agent string, kinds []topic.Kind) {
		t.Helper()
		for _, k := range kinds {
			mustSubscribe(t, c, topic.For(agent, k))
		}
	}
	// sharedCollector connects the collector user and joins its share
	// group for what agents publish, as the collector does.
	sharedCollector := func(t *testing.T, group string) *mqttClient {
		t.Helper()
		c := b.connect(t, collectorUser, "")
		for _, k := range collectorKinds {
			mustSubscribe(t, c, topic.Shared(group, k))
		}
		return c
	}

	t.Run("agent and collector use their own topics", func(t *testing.T) {
		collector := sharedCollector(t, topic.DefaultShareGroup)
		agent := b.connect(t, agentA, "meterline-agent-"+agentA)
		subscribeAll(t, agent, agentA, agentKinds)

		for _, k := range collectorKinds {
			// The agent's status is retained, as the agent publishes it.
			mustPublish(t, agent, topic.For(agentA, k), "allowed "+string(k), k == topic.Status)
		}
		for _, k := range collectorKinds {
			expectMessage(t, collector, collectorUser, topic.For(agentA, k), "allowed "+string(k))
		}
		for _, k := range agentKinds {
			mustPublish(t, collector, topic.For(agentA, k), "allowed "+string(k), k == topic.Config)
		}
		for _, k := range agentKinds {
			expectMessage(t, agent, agentA, topic.For(agentA, k), "allowed "+string(k))
		}
	})

	t.Run("agent cannot publish as another agent or as the collector", func(t *testing.T) {
		collector := sharedCollector(t, topic.DefaultShareGroup)
		a := b.connect(t, agentA, "")
		subscribeAll(t, a, agentA, agentKinds)
		bb := b.connect(t, agentB, "")
		subscribeAll(t, bb, agentB, agentKinds)

		// MQTT 3.1.1 has no way to refuse a PUBLISH: Mosquitto acknowledges
		// it and drops it. So each check publishes a marker after the
		// forbidden messages, on the same connection, and the forbidden ones
		// must not arrive before it.
		for _, k := range append(collectorKinds, agentKinds...) {
			retained := k == topic.Status || k == topic.Config
			mustPublish(t, a, topic.For(agentB, k), forbidden+topic.For(agentB, k), retained)
		}
		for _, k := range agentKinds {
			mustPublish(t, a, topic.For(agentA, k), forbidden+topic.For(agentA, k), k == topic.Config)
		}
		mustPublish(t, a, topic.For(agentA, topic.Reads), "marker: a", false)
		expectMessage(t, collector, collectorUser, topic.For(agentA, topic.Reads), "marker: a")
		mustPublish(t, collector, topic.For(agentA, topic.Acks), "marker: acks a", false)
		expectMessage(t, a, agentA, topic.For(agentA, topic.Acks), "marker: acks a")
		mustPublish(t, collector, topic.For(agentB, topic.Acks), "marker: acks b", false)
		expectMessage(t, bb, agentB, topic.For(agentB, topic.Acks), "marker: acks b")

		// Nor was any of it kept as a retained message. Retained messages
		// are sent right after each SUBACK, so a retained marker on a
		// topic subscribed to last comes after anything retained before.
		mustPublish(t, a, topic.For(agentA, topic.Status), "marker: retained status", true)
		reader := b.connect(t, collectorUser, "")
		mustSubscribe(t, reader, topic.For(agentB, topic.Status))
		mustSubscribe(t, reader, topic.For(agentA, topic.Status))
		expectMessage(t, reader, collectorUser, topic.For(agentA, topic.Status), "marker: retained status")

		mustPublish(t, collector, topic.For(agentB, topic.Commands), "marker: retained commands", true)
		fresh := b.connect(t, agentB, "")
		mustSubscribe(t, fresh, topic.For(agentB, topic.Config))
		mustSubscribe(t, fresh, topic.For(agentB, topic.Commands))
		expectMessage(t, fresh, agentB, topic.For(agentB, topic.Commands), "marker: retained commands")
	})

	t.Run("agent cannot read another agent's topics", func(t *testing.T) {
		a := b.connect(t, agentA, "")
		for _, filter := range []string{
			topic.For(agentB, topic.Reads), topic.For(agentB, topic.Status), topic.For(agentB, topic.Events),
			topic.For(agentB, topic.Config), topic.For(agentB, topic.Commands), topic.For(agentB, topic.Acks),
			topic.Prefix + "+/" + string(topic.Acks), topic.Prefix + "#", "#",
			topic.Shared("spy", topic.Reads),
			topic.For(agentA, topic.Acks),
		} {
			// Mosquitto's ACL file does not refuse subscriptions (the
			// SUBACK grants them); it filters what is delivered.
			mustSubscribe(t, a, filter)
		}
		bb := b.connect(t, agentB, "")
		collector := b.connect(t, collectorUser, "")
		for _, k := range collectorKinds {
			mustPublish(t, bb, topic.For(agentB, k), forbidden+topic.For(agentB, k), false)
		}
		for _, k := range agentKinds {
			mustPublish(t, collector, topic.For(agentB, k), forbidden+topic.For(agentB, k), false)
		}
		mustPublish(t, collector, topic.For(agentA, topic.Acks), "marker: read", false)
		expectMessage(t, a, agentA, topic.For(agentA, topic.Acks), "marker: read")
	})

	t.Run("last will goes only to the agent's own status", func(t *testing.T) {
		collector := b.connect(t, collectorUser, "")
		mustSubscribe(t, collector, topic.For(agentB, topic.Status))
		mustSubscribe(t, collector, topic.For(agentA, topic.Status))

		// Taking over a session (same client id) makes Mosquitto publish
		// the old connection's will while it handles the new CONNECT, so
		// whatever the new connection publishes next comes after it.
		takeOver := func(willTopic, will string) *mqttClient {
			t.Helper()
			const id = "meterline-agent-will"
			b.connectWill(t, agentA, id, willTopic, will)
			return b.connect(t, agentA, id)
		}
		// First the agent's own will, so that the check below is not
		// passed by a broker that sends no will at all.
		takeOver(topic.For(agentA, topic.Status), "marker: own will")
		expectMessage(t, collector, collectorUser, topic.For(agentA, topic.Status), "marker: own will")

		c := takeOver(topic.For(agentB, topic.Status), forbidden+"will")
		mustPublish(t, c, topic.For(agentA, topic.Status), "marker: after will", false)
		expectMessage(t, collector, collectorUser, topic.For(agentA, topic.Status), "marker: after will")
	})

	t.Run("refused logins", func(t *testing.T) {
		tests := []struct{ name, user, password string }{
			{"anonymous", "", ""},
			{"wrong password", agentA, "not-the-password"},
			{"another agent's password", agentA, b.passwords[agentB]},
			{"collector user with an agent's password", collectorUser, b.passwords[agentA]},
			{"user without password", agentA, ""},
			{"unknown user", "agent-unknown", "whatever"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c, code, err := b.dial(mqttLogin{user: tt.user, password: tt.password, clientID: "refused-" + rand.Text()})
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				if c != nil {
					c.close()
					t.Fatalf("the broker accepted user %q with password %q", tt.user, tt.password)
				}
				// 4: bad user name or password, 5: not authorised.
				if code != 4 && code != 5 {
					t.Errorf("CONNACK return code %d, want 4 or 5", code)
				}
			})
		}
	})

	t.Run("agent cannot join a share group whose name it does not know", func(t *testing.T) {
		// The ACL file cannot stop an agent from joining the collectors'
		// share group: Mosquitto would give it its turn of the stream and
		// then drop each message its read ACL refuses. A share group name
		// the agents cannot guess (METERLINE_SHARE_GROUP) keeps them out.
		group := "collectors-" + strings.ToLower(rand.Text())
		collector := sharedCollector(t, group)
		a := b.connect(t, agentA, "")
		for _, g := range []string{topic.DefaultShareGroup, "collectors-x", "meterline"} {
			mustSubscribe(t, a, topic.Shared(g, topic.Reads))
		}
		bb := b.connect(t, agentB, "")
		for i := range 6 {
			mustPublish(t, bb, topic.For(agentB, topic.Reads), fmt.Sprintf("batch %d", i), false)
		}
		for i := range 6 {
			expectMessage(t, collector, collectorUser, topic.For(agentB, topic.Reads), fmt.Sprintf("batch %d", i))
		}
	})

	t.Run("real agent and collector", func(t *testing.T) {
		// The binaries, configured as the deploy READMEs say: the agent's
		// own topics, user name, Last Will and TLS settings, and the
		// collector's subscriptions, all pass this ACL.
		dir := t.TempDir()
		ca := filepath.Join(b.certDir, "ca.crt")
		pwFile := filepath.Join(dir, "mqtt-password")
		writeFile(t, pwFile, b.passwords[collectorUser]+"\n")
		startReady(t, 20*time.Second, "meterline-collector",
			"-mqtt", "ssl://"+b.addr, "-mqtt-username", collectorUser, "-mqtt-password-file", pwFile,
			"-mqtt-ca-file", ca, "-client-id", "acl-test-collector", "-data-dir", dir)

		conf := filepath.Join(dir, "agent.toml")
		writeFile(t, conf, fmt.Sprintf(`agent_id = %q
state_dir = %q
targets = [%q]

[mqtt]
url = %q
username = %q
password = %q
ca_file = %q

[snmp]
timeout = "1s"
retries = 0
`, agentA, filepath.Join(dir, "agent"), freeTCPAddr(t), "ssl://"+b.addr, agentA, b.passwords[agentA], ca))
		start(t, "meterline-agent", "run", "--config", conf)

		// The agent's status (online) went agent → broker → collector →
		// database.
		db := openDB(t, "sqlite:"+filepath.Join(dir, "meterline.db"))
		waitFor(t, "agent-a online in the collector's database", 20*time.Second, func() (bool, error) {
			var online bool
			err := db.QueryRow("SELECT online FROM agents WHERE id = ?", agentA).Scan(&online)
			return err == nil && online, err
		})
	})
}

// TestACLAddAgentRefuses checks add-agent.sh's agent id rule (the one of
// shared/topic ValidAgentID) and its guard against replacing credentials.
func TestACLAddAgentRefuses(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	const existing = "site-01:$7$101$notarealhash\n"
	writeFile(t, passwd, existing)
	for _, id := range []string{
		// Not agent ids (topic.ValidAgentID)...
		"", "a/b", "a+b", "a#b", "a b", "é", strings.Repeat("x", 65),
		// ... reserved for the service users of the acl file...
		"meterline-collector", "meterline-collector-2", "meterline-monitor",
		// ... and an agent that has credentials already.
		"site-01",
	} {
		t.Run(id, func(t *testing.T) {
			cmd := exec.Command("sh", filepath.Join(deployMosquitto, "add-agent.sh"), "-f", passwd, "--", id)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err == nil {
				t.Fatalf("add-agent.sh %q succeeded; stdout %q", id, stdout.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("add-agent.sh %q printed on stdout: %q", id, stdout.String())
			}
			if !strings.Contains(stderr.String(), "add-agent.sh:") {
				t.Errorf("add-agent.sh %q gave no reason: %q", id, stderr.String())
			}
			if got, _ := os.ReadFile(passwd); string(got) != existing {
				t.Errorf("password file changed:\n%s", got)
			}
		})
	}
}

// startACLBroker starts a Mosquitto from deploy/mosquitto/meterline.conf
// with a CA and server certificate made by make-certs.sh, two agents
// (agent-a, agent-b) added by add-agent.sh and the collector user.
func startACLBroker(t *testing.T) *aclBroker {
	t.Helper()
	mosq := mosquittoPath(t)
	for _, tool := range []string{"mosquitto_passwd", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not on PATH: skipping the broker ACL test (apt-get install mosquitto openssl)", tool)
		}
	}
	dir := t.TempDir()
	runDeployScript(t, "make-certs.sh", "-d", dir, "127.0.0.1", "localhost")

	b := &aclBroker{certDir: dir, passwords: map[string]string{}}
	passwd := filepath.Join(dir, "passwd")
	for _, agent := range []string{"agent-a", "agent-b"} {
		b.passwords[agent] = strings.TrimSpace(runDeployScript(t, "add-agent.sh", "-f", passwd, agent))
	}
	b.passwords[collectorUser] = rand.Text()
	if out, err := exec.Command("mosquitto_passwd", "-b", passwd, collectorUser, b.passwords[collectorUser]).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}

	shipped, err := os.ReadFile(filepath.Join(deployMosquitto, "meterline.conf"))
	if err != nil {
		t.Fatal(err)
	}
	acl, err := filepath.Abs(filepath.Join(deployMosquitto, "acl"))
	if err != nil {
		t.Fatal(err)
	}
	conf, tlsAddr := testBrokerConfig(t, string(shipped), dir, acl)
	b.addr = tlsAddr
	confPath := filepath.Join(dir, "mosquitto.conf")
	writeFile(t, confPath, conf)

	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		t.Fatal("make-certs.sh: ca.crt holds no certificate")
	}
	// The server name checked is 127.0.0.1, from the address dialled:
	// make-certs.sh must have put it in the certificate.
	b.tls = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}

	p := startPath(t, "mosquitto", mosq, "-c", confPath)
	waitFor(t, "mosquitto listening on "+b.addr, 20*time.Second, func() (bool, error) {
		select {
		case <-p.done:
			return false, fmt.Errorf("mosquitto exited:\n%s", p.output())
		default:
		}
		c, err := net.DialTimeout("tcp", b.addr, time.Second)
		if err != nil {
			return false, err
		}
		c.Close()
		return true, nil
	})
	return b
}

// runDeployScript runs a script of deploy/mosquitto and returns its stdout.
func runDeployScript(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command("sh", append([]string{filepath.Join(deployMosquitto, name)}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// testBrokerConfig adapts the shipped configuration to a test: each
// listener on a free loopback port, the TLS and password files and the
// store in dir, the ACL file at acl, logs on stderr. Every other line (the
// limits, authentication, persistence) is kept as shipped. It returns the
// configuration and the address of the TLS listener.
func testBrokerConfig(t *testing.T, shipped, dir, acl string) (conf, tlsAddr string) {
	t.Helper()
	var (
		out      []string
		listener string // address of the listener being configured
		settings = map[string]string{}
	)
	sc := bufio.NewScanner(strings.NewReader(shipped))
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			out = append(out, line)
			continue
		}
		key := fields[0]
		value := strings.Join(fields[1:], " ")
		settings[key] = value
		switch key {
		case "listener":
			listener = freeTCPAddr(t)
			_, port, _ := net.SplitHostPort(listener)
			line = "listener " + port + " 127.0.0.1"
		case "cafile", "certfile", "keyfile":
			line = key + " " + filepath.Join(dir, filepath.Base(value))
			if key == "certfile" {
				tlsAddr = listener
			}
		case "password_file":
			line = key + " " + filepath.Join(dir, "passwd")
		case "acl_file":
			line = key + " " + acl
		case "persistence_location":
			store := filepath.Join(dir, "store")
			if err := os.Mkdir(store, 0o700); err != nil {
				t.Fatal(err)
			}
			line = key + " " + store + "/"
		case "log_dest":
			line = "log_dest stderr"
		case "pid_file", "user":
			line = "# test: " + line
		}
		out = append(out, line)
	}
	if os.Geteuid() == 0 {
		// As root, Mosquitto switches to the user "mosquitto" before it
		// reads the files, which cannot enter the test's private temp dir.
		out = append(out, "user root")
	}

	// What the rest of the test relies on, and the limits that matter.
	if tlsAddr == "" {
		t.Fatal("meterline.conf: no listener with a certfile (the TLS listener)")
	}
	for key, want := range map[string]string{
		"per_listener_settings": "false",
		"allow_anonymous":       "false",
		"persistence":           "true",
		"tls_version":           "tlsv1.2",
	} {
		if settings[key] != want {
			t.Errorf("meterline.conf: %s is %q, want %q", key, settings[key], want)
		}
	}
	for _, key := range []string{"password_file", "acl_file", "max_queued_bytes", "max_inflight_messages", "max_packet_size", "persistent_client_expiration"} {
		if settings[key] == "" {
			t.Errorf("meterline.conf: %s is not set", key)
		}
	}
	// Mosquitto's default of 1000 queued messages per client is what
	// drops QoS 1 messages under a burst.
	if n, err := strconv.Atoi(settings["max_queued_messages"]); err != nil || n <= 1000 {
		t.Errorf("meterline.conf: max_queued_messages %q, want more than Mosquitto's default 1000", settings["max_queued_messages"])
	}
	return strings.Join(out, "\n") + "\n", tlsAddr
}

// mqttLogin is what a client sends in its CONNECT.
type mqttLogin struct {
	user, password string
	clientID       string
	// willTopic, when set, gets will as a retained QoS 1 Last Will, like
	// the agent's status.
	willTopic, will string
}

// dial connects over TLS with a clean session. A refused login returns a
// nil client and the CONNACK return code.
func (b *aclBroker) dial(l mqttLogin) (*mqttClient, byte, error) {
	const timeout = 5 * time.Second
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", b.addr, b.tls)
	if err != nil {
		return nil, 0, fmt.Errorf("TLS connection to %s: %w", b.addr, err)
	}
	flags := byte(0x02) // clean session
	if l.willTopic != "" {
		flags |= 0x04 | 1<<3 | 0x20 // will, QoS 1, retained
	}
	if l.user != "" {
		flags |= 0x80
	}
	if l.password != "" {
		flags |= 0x40
	}
	var vh bytes.Buffer
	writeString(&vh, "MQTT")
	vh.WriteByte(4) // protocol level 3.1.1
	vh.WriteByte(flags)
	vh.Write([]byte{0, 0}) // no keep-alive
	writeString(&vh, l.clientID)
	if l.willTopic != "" {
		writeString(&vh, l.willTopic)
		writeString(&vh, l.will)
	}
	if l.user != "" {
		writeString(&vh, l.user)
	}
	if l.password != "" {
		writeString(&vh, l.password)
	}
	conn.SetDeadline(time.Now().Add(timeout))
	if err := writePacket(conn, pktConnect<<4, vh.Bytes()); err != nil {
		conn.Close()
		return nil, 0, fmt.Errorf("send CONNECT: %w", err)
	}
	r := bufio.NewReader(conn)
	typ, body, err := readPacket(r)
	if err != nil {
		conn.Close()
		return nil, 0, fmt.Errorf("read CONNACK: %w", err)
	}
	if typ>>4 != pktConnack || len(body) != 2 {
		conn.Close()
		return nil, 0, fmt.Errorf("want a CONNACK, got packet %#x %v", typ, body)
	}
	if code := body[1]; code != 0 {
		conn.Close()
		return nil, code, nil
	}
	conn.SetDeadline(time.Time{})
	c := &mqttClient{conn: conn, waiting: map[uint16]chan struct{}{}, notify: make(chan struct{}, 1), closed: make(chan struct{})}
	go c.readLoop(r)
	return c, 0, nil
}

// connect logs user in with its password, or fails the test; clientID
// empty makes one up. The connection is closed when the test ends.
func (b *aclBroker) connect(t *testing.T, user, clientID string) *mqttClient {
	t.Helper()
	return b.connectWill(t, user, clientID, "", "")
}

// connectWill is connect with a retained QoS 1 Last Will.
func (b *aclBroker) connectWill(t *testing.T, user, clientID, willTopic, will string) *mqttClient {
	t.Helper()
	if clientID == "" {
		clientID = user + "-" + rand.Text()
	}
	c, code, err := b.dial(mqttLogin{user: user, password: b.passwords[user], clientID: clientID, willTopic: willTopic, will: will})
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	if c == nil {
		t.Fatalf("connect as %s: refused, CONNACK return code %d", user, code)
	}
	t.Cleanup(c.close)
	return c
}

func mustSubscribe(t *testing.T, c *mqttClient, filter string) {
	t.Helper()
	if err := c.subscribe(filter, 5*time.Second); err != nil {
		t.Fatalf("subscribe to %s: %v", filter, err)
	}
}

func mustPublish(t *testing.T, c *mqttClient, topicName, payload string, retained bool) {
	t.Helper()
	if err := c.publish(topicName, []byte(payload), retained, 5*time.Second); err != nil {
		t.Fatalf("publish on %s: %v", topicName, err)
	}
}

// expectMessage reads the messages of reader (a user name) until payload
// arrives on topicName. On the way, a forbidden message, or for an agent a
// message of another agent's topics, is a hole in the ACL; other messages
// (retained ones of earlier checks) are skipped.
func expectMessage(t *testing.T, c *mqttClient, reader, topicName, payload string) {
	t.Helper()
	for {
		msg, ok := c.next(10 * time.Second)
		if !ok {
			t.Fatalf("%s: %q on %s never arrived", reader, payload, topicName)
		}
		if strings.HasPrefix(string(msg.Payload), forbidden) {
			t.Errorf("%s received %q on %s: the ACL should have stopped it", reader, msg.Payload, msg.Topic)
			continue
		}
		if reader != collectorUser {
			if agent, _, err := topic.Parse(msg.Topic); err != nil || agent != reader {
				t.Errorf("agent %s received %q on %s, not one of its topics", reader, msg.Payload, msg.Topic)
				continue
			}
		}
		if msg.Topic == topicName && string(msg.Payload) == payload {
			return
		}
	}
}
