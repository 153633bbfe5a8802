package uplink

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/meterline/meterline/agent/internal/outbox"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// privateBroker is a Mosquitto of the test's own, which it may kill and
// start again on the same port.
type privateBroker struct {
	t    *testing.T
	conf string
	port int
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

// startBroker runs mosquitto on a free 127.0.0.1 port with the listener
// settings in extra, or skips when mosquitto is not installed.
func startBroker(t *testing.T, extra string) *privateBroker {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/mosquitto"); err != nil {
			t.Skip("mosquitto is not installed (apt-get install mosquitto): the broker tests need a private one")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	// user root: as root, mosquitto would otherwise switch to a user that
	// cannot read the test's files.
	text := fmt.Sprintf("user %s\npersistence false\nlistener %d 127.0.0.1\nallow_anonymous true\n%s", currentUser(), port, extra)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &privateBroker{t: t, conf: conf, port: port}
	b.logs = &bytes.Buffer{}
	b.start(bin)
	t.Cleanup(b.stop)
	return b
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "root"
}

func (b *privateBroker) start(bin string) {
	b.t.Helper()
	b.cmd = exec.Command(bin, "-c", b.conf)
	b.cmd.Stdout, b.cmd.Stderr = &lockedWriter{w: b.logs}, &lockedWriter{w: b.logs}
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	waitFor(b.t, "mosquitto to listen", func() bool {
		c, err := net.DialTimeout("tcp", b.addr(), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func (b *privateBroker) restart() { b.start(b.cmd.Path) }

// stop kills the broker, as a crash or a power cut does.
func (b *privateBroker) stop() {
	if b.cmd == nil || b.cmd.Process == nil || b.cmd.ProcessState != nil {
		return
	}
	b.cmd.Process.Kill()
	b.cmd.Wait()
}

func (b *privateBroker) addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// fakeCollector subscribes to an agent's reads and acknowledges every
// batch, as the collector does after its commit.
type fakeCollector struct {
	client mqtt.Client

	mu       sync.Mutex
	received []uint64
}

func startCollector(t *testing.T, url, agentID string, tlsOpts TLSOptions) *fakeCollector {
	t.Helper()
	fc := &fakeCollector{}
	batches := make(chan wire.ReadBatch, 1000)
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID("collector-" + agentID).
		SetAutoReconnect(true).SetMaxReconnectInterval(time.Second).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetOnConnectHandler(func(c mqtt.Client) {
			c.Subscribe(topic.For(agentID, topic.Reads), 1, func(_ mqtt.Client, m mqtt.Message) {
				if b, _, err := wire.DecodeReadBatch(m.Payload(), time.Now()); err == nil {
					batches <- b // never blocks in practice: the channel is large
				}
			}).WaitTimeout(10 * time.Second)
		})
	if strings.HasPrefix(url, "ssl:") {
		c, err := tlsOpts.Config()
		if err != nil {
			t.Fatal(err)
		}
		opts.SetTLSConfig(c)
	}
	fc.client = mqtt.NewClient(opts)
	if tok := fc.client.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("collector connect: %v", tok.Error())
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range batches {
			fc.mu.Lock()
			fc.received = append(fc.received, b.Sequence)
			fc.mu.Unlock()
			ack, _ := wire.Encode(wire.Ack{Schema: wire.SchemaVersion, AgentID: agentID, Sequences: []uint64{b.Sequence}, At: time.Now()})
			fc.client.Publish(topic.For(agentID, topic.Acks), 1, false, ack).WaitTimeout(5 * time.Second)
		}
	}()
	t.Cleanup(func() { close(batches); <-done; fc.client.Disconnect(100) })
	return fc
}

func (fc *fakeCollector) seqs() []uint64 {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return slices.Clone(fc.received)
}

// agentUplink is the daemon's uplink: outbox, sender and MQTT, wired the
// way daemon.go wires them.
type agentUplink struct {
	box    *outbox.Outbox
	sender *Sender
	mqtt   *MQTT
}

func startUplink(t *testing.T, url, agentID string, tlsOpts TLSOptions) *agentUplink {
	t.Helper()
	box, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), outbox.Options{SeqFloor: 1})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	sender := NewSender(box, SenderOptions{AgentID: agentID, AckTimeout: 2 * time.Second,
		Jitter: func(d time.Duration) time.Duration { return d }}, log)
	m, err := Start(t.Context(), MQTTOptions{URL: url, ClientID: "agent-" + agentID, AgentID: agentID, TLS: tlsOpts,
		PublishTimeout: 5 * time.Second, MaxReconnectInterval: time.Second, ConnectJitter: -1, Report: sender.Report}, log)
	if err != nil {
		t.Fatal(err)
	}
	m.Subscribe(topic.Acks, sender.HandleAck)
	m.OnConnect(sender.Reconnected)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(t.Context())
	wg.Go(func() { sender.Run(ctx, m) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		m.Close(t.Context())
		box.Close()
	})
	return &agentUplink{box: box, sender: sender, mqtt: m}
}

func (u *agentUplink) deliver(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		read := wire.DeviceRead{Address: fmt.Sprintf("192.0.2.%d", i+1), ReadAt: time.Now().Add(-time.Second), Serial: "X"}
		if err := u.sender.Deliver(t.Context(), []wire.DeviceRead{read}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBrokerRestartLosesNothing: batches flow and are acknowledged; the
// broker dies; batches pile up in the outbox; the broker comes back on the
// same port; everything pending arrives and is acknowledged.
func TestBrokerRestartLosesNothing(t *testing.T) {
	broker := startBroker(t, "")
	url := "tcp://" + broker.addr()
	agentID := "restart-agent"
	collector := startCollector(t, url, agentID, TLSOptions{})
	u := startUplink(t, url, agentID, TLSOptions{})

	u.deliver(t, 5)
	waitFor(t, "the first five batches acknowledged", func() bool { return u.box.Stats().Depth == 0 })
	expectSeqs(t, "received", dedupe(collector.seqs()), seqRange(1, 5))

	broker.stop()
	waitFor(t, "the agent to see the broker gone", func() bool { return !u.mqtt.IsConnected() })
	u.deliver(t, 20) // polling goes on
	if d := u.box.Stats().Depth; d != 20 {
		t.Fatalf("outbox depth %d while the broker is down, want 20", d)
	}
	before := len(collector.seqs())

	broker.restart()
	waitFor(t, "the outbox to empty after the broker came back", func() bool { return u.box.Stats().Depth == 0 })
	// Every batch arrives; not always in order: batches that failed with
	// the connection and batches never tried go out together, and paho
	// retries some of them (the collector does not need the order).
	after := dedupe(collector.seqs()[before:])
	slices.Sort(after)
	expectSeqs(t, "received after the restart", after, seqRange(6, 20))
}

// dedupe keeps the first copy of each number, in arrival order.
func dedupe(seqs []uint64) []uint64 {
	var out []uint64
	for _, s := range seqs {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// TestBrokerTLS connects over TLS to a broker whose certificate a CA of
// the test's signed, with ca_file, and with a client certificate where the
// broker requires one.
func TestBrokerTLS(t *testing.T) {
	pki := newTestPKI(t)
	tests := []struct {
		name       string
		requireTLS bool
		opts       TLSOptions
	}{
		{"server certificate checked with ca_file", false, TLSOptions{CAFile: pki.caFile}},
		{"client certificate required", true, TLSOptions{CAFile: pki.caFile, CertFile: pki.clientCert, KeyFile: pki.clientKey}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := fmt.Sprintf("cafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate %v\n", pki.caFile, pki.serverCert, pki.serverKey, tt.requireTLS)
			broker := startBroker(t, conf)
			url := "ssl://" + broker.addr()
			agentID := fmt.Sprintf("tls-agent-%d", i)
			collector := startCollector(t, url, agentID, TLSOptions{CAFile: pki.caFile, CertFile: pki.clientCert, KeyFile: pki.clientKey})
			u := startUplink(t, url, agentID, tt.opts)
			u.deliver(t, 3)
			waitFor(t, "the batches acknowledged over TLS", func() bool { return u.box.Stats().Depth == 0 })
			expectSeqs(t, "received", dedupe(collector.seqs()), seqRange(1, 3))

			if tt.requireTLS {
				// Without a client certificate the broker refuses.
				c, _ := TLSOptions{CAFile: pki.caFile}.Config()
				client := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("no-cert").SetTLSConfig(c).SetConnectTimeout(5 * time.Second))
				tok := client.Connect()
				if !tok.WaitTimeout(30*time.Second) || tok.Error() == nil {
					client.Disconnect(0)
					t.Error("connected without a client certificate")
				}
			}
		})
	}
}

// testPKI is a CA, a server certificate for 127.0.0.1 and a client
// certificate, as PEM files.
type testPKI struct {
	caFile                string
	serverCert, serverKey string
	clientCert, clientKey string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "meterline test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p := testPKI{caFile: writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)}
	issue := func(name string, serial int64, usage x509.ExtKeyUsage) (certFile, keyFile string) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return writePEM(t, dir, name+".pem", "CERTIFICATE", der), writePEM(t, dir, name+".key", "PRIVATE KEY", keyDER)
	}
	p.serverCert, p.serverKey = issue("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = issue("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, dir, name, kind string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
