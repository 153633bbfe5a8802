package e2e

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// The system Mosquitto on 127.0.0.1:1883 is shared with other test
// packages whose collectors subscribe to every agent's reads and would ack
// (and store) this package's batches. The reliability tests therefore run
// a private broker each, on a free port, that they can kill, pause and
// restart.

// mosquittoPath returns the mosquitto binary, or skips the test.
func mosquittoPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	// Debian installs it in /usr/sbin, which is not on every user's PATH.
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("mosquitto is not on PATH: skipping the private-broker reliability test (.ci/run installs it; apt-get install mosquitto)")
	return ""
}

// mosquitto is a private broker, started and stopped by one test.
type mosquitto struct {
	t    *testing.T
	path string
	conf string
	addr string // 127.0.0.1:port, kept across restarts
	proc *process
}

// startMosquitto runs a private Mosquitto on a free loopback port with an
// in-memory store; extra lines are added to its configuration (for example
// "max_queued_messages 2").
func startMosquitto(t *testing.T, extra ...string) *mosquitto {
	t.Helper()
	m := &mosquitto{t: t, path: mosquittoPath(t), addr: freeTCPAddr(t)}
	_, port, _ := net.SplitHostPort(m.addr)
	m.conf = filepath.Join(t.TempDir(), "mosquitto.conf")
	lines := []string{
		"listener " + port + " 127.0.0.1",
		"allow_anonymous true",
		"persistence false",
		"log_dest stderr",
		"log_type error",
		"log_type warning",
		"log_type notice",
		"log_type information",
		"connection_messages true",
	}
	writeFile(t, m.conf, strings.Join(append(lines, extra...), "\n")+"\n")
	m.start()
	return m
}

// url is the broker's address for the agent and the collector.
func (m *mosquitto) url() string { return "tcp://" + m.addr }

// start (re)starts the broker on its port and waits until it listens.
func (m *mosquitto) start() {
	m.t.Helper()
	m.proc = startPath(m.t, "mosquitto", m.path, "-c", m.conf)
	waitFor(m.t, "private mosquitto listening on "+m.addr, 20*time.Second, func() (bool, error) {
		select {
		case <-m.proc.done:
			return false, fmt.Errorf("mosquitto exited:\n%s", m.proc.output())
		default:
		}
		c, err := net.DialTimeout("tcp", m.addr, time.Second)
		if err != nil {
			return false, err
		}
		c.Close()
		return true, nil
	})
}

// kill stops the broker at once (SIGKILL): no goodbye to its clients,
// and, with persistence off, every session and queued message is gone.
func (m *mosquitto) kill() {
	m.proc.cmd.Process.Signal(syscall.SIGCONT) // in case it is paused
	m.proc.cmd.Process.Kill()
	<-m.proc.done
}

// pause freezes the broker (SIGSTOP): connections stay open and nothing
// answers, as with a hung broker or a black-holed network path.
func (m *mosquitto) pause() { m.proc.cmd.Process.Signal(syscall.SIGSTOP) }

// resume undoes pause.
func (m *mosquitto) resume() { m.proc.cmd.Process.Signal(syscall.SIGCONT) }

// startPath is start for a binary outside bin (mosquitto). A paused
// process is resumed before it is asked to stop.
func startPath(t *testing.T, name, path string, args ...string) *process {
	t.Helper()
	p := &process{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Signal(syscall.SIGCONT)
		}
		p.stop(t)
		if t.Failed() {
			t.Logf("---- output of %s %s ----\n%s", name, strings.Join(args, " "), p.output())
		}
	})
	return p
}

// ---- a minimal MQTT 3.1.1 client ----
//
// The e2e module depends on no MQTT library; what the tests need from a
// client is small: read a retained status, publish a retained config.

// MQTT 3.1.1 control packet types.
const (
	pktConnect    = 1
	pktConnack    = 2
	pktPublish    = 3
	pktPuback     = 4
	pktSubscribe  = 8
	pktSuback     = 9
	pktDisconnect = 14
)

// mqttMessage is one PUBLISH received.
type mqttMessage struct {
	Topic    string
	Payload  []byte
	Retained bool
}

// mqttClient is one connection; a goroutine reads its packets.
type mqttClient struct {
	conn net.Conn
	wmu  sync.Mutex

	mu      sync.Mutex
	nextID  uint16
	waiting map[uint16]chan struct{} // PUBACK / SUBACK by packet id
	msgs    []mqttMessage
	notify  chan struct{}
	err     error
	closed  chan struct{}
}

// mqttDial connects with a clean session and no keep-alive.
func mqttDial(addr, clientID string, timeout time.Duration) (*mqttClient, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	var vh bytes.Buffer
	writeString(&vh, "MQTT")
	vh.WriteByte(4)    // protocol level 3.1.1
	vh.WriteByte(0x02) // clean session
	vh.Write([]byte{0, 0})
	writeString(&vh, clientID)
	conn.SetDeadline(time.Now().Add(timeout))
	if err := writePacket(conn, pktConnect<<4, vh.Bytes()); err != nil {
		conn.Close()
		return nil, err
	}
	r := bufio.NewReader(conn)
	typ, body, err := readPacket(r)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read CONNACK: %w", err)
	}
	if typ>>4 != pktConnack || len(body) != 2 || body[1] != 0 {
		conn.Close()
		return nil, fmt.Errorf("connection refused: packet %#x %v", typ, body)
	}
	conn.SetDeadline(time.Time{})
	c := &mqttClient{conn: conn, waiting: map[uint16]chan struct{}{}, notify: make(chan struct{}, 1), closed: make(chan struct{})}
	go c.readLoop(r)
	return c, nil
}

func (c *mqttClient) readLoop(r *bufio.Reader) {
	defer close(c.closed)
	for {
		typ, body, err := readPacket(r)
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		switch typ >> 4 {
		case pktPublish:
			qos := (typ >> 1) & 3
			if len(body) < 2 {
				continue
			}
			n := int(binary.BigEndian.Uint16(body))
			if len(body) < 2+n {
				continue
			}
			msg := mqttMessage{Topic: string(body[2 : 2+n]), Retained: typ&1 == 1}
			rest := body[2+n:]
			if qos > 0 && len(rest) >= 2 {
				id := rest[:2]
				rest = rest[2:]
				c.write(pktPuback<<4, id)
			}
			msg.Payload = append([]byte(nil), rest...)
			c.mu.Lock()
			c.msgs = append(c.msgs, msg)
			c.mu.Unlock()
			select {
			case c.notify <- struct{}{}:
			default:
			}
		case pktPuback, pktSuback:
			if len(body) >= 2 {
				id := binary.BigEndian.Uint16(body)
				c.mu.Lock()
				if ch, ok := c.waiting[id]; ok {
					close(ch)
					delete(c.waiting, id)
				}
				c.mu.Unlock()
			}
		}
	}
}

func (c *mqttClient) write(header byte, body []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return writePacket(c.conn, header, body)
}

// request sends a packet that carries id and waits for its PUBACK/SUBACK.
func (c *mqttClient) request(header byte, build func(id uint16) []byte, timeout time.Duration) error {
	c.mu.Lock()
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	id := c.nextID
	ch := make(chan struct{})
	c.waiting[id] = ch
	c.mu.Unlock()
	if err := c.write(header, build(id)); err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-c.closed:
		return fmt.Errorf("connection closed: %v", c.err) //nolint:errorlint // c.err may be nil (a clean close)
	case <-time.After(timeout):
		return errors.New("no acknowledgement from the broker")
	}
}

// subscribe subscribes to filter at QoS 1.
func (c *mqttClient) subscribe(filter string, timeout time.Duration) error {
	return c.request(pktSubscribe<<4|0x02, func(id uint16) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.BigEndian, id)
		writeString(&b, filter)
		b.WriteByte(1)
		return b.Bytes()
	}, timeout)
}

// publish publishes at QoS 1 and waits for the broker's PUBACK.
func (c *mqttClient) publish(topicName string, payload []byte, retain bool, timeout time.Duration) error {
	header := byte(pktPublish<<4 | 1<<1)
	if retain {
		header |= 1
	}
	return c.request(header, func(id uint16) []byte {
		var b bytes.Buffer
		writeString(&b, topicName)
		binary.Write(&b, binary.BigEndian, id)
		b.Write(payload)
		return b.Bytes()
	}, timeout)
}

// next returns the next message received, waiting at most timeout.
func (c *mqttClient) next(timeout time.Duration) (mqttMessage, bool) {
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		if len(c.msgs) > 0 {
			m := c.msgs[0]
			c.msgs = c.msgs[1:]
			c.mu.Unlock()
			return m, true
		}
		c.mu.Unlock()
		select {
		case <-c.notify:
		case <-c.closed:
			return mqttMessage{}, false
		case <-deadline:
			return mqttMessage{}, false
		}
	}
}

// close says goodbye and closes the connection.
func (c *mqttClient) close() {
	c.write(pktDisconnect<<4, nil)
	c.conn.Close()
	<-c.closed
}

func writeString(b *bytes.Buffer, s string) {
	binary.Write(b, binary.BigEndian, uint16(len(s)))
	b.WriteString(s)
}

func writePacket(w io.Writer, header byte, body []byte) error {
	buf := []byte{header}
	n := len(body)
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		buf = append(buf, d)
		if n == 0 {
			break
		}
	}
	_, err := w.Write(append(buf, body...))
	return err
}

func readPacket(r *bufio.Reader) (byte, []byte, error) {
	header, err := r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for i := 0; ; i++ {
		d, err := r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(d&0x7f) * mul
		mul *= 128
		if d&0x80 == 0 {
			break
		}
		if i == 3 {
			return 0, nil, errors.New("malformed remaining length")
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return header, body, nil
}

// retainedStatus reads the agent's retained status from the broker; ok is
// false when the broker holds none (or does not answer within a few
// seconds).
func retainedStatus(brokerAddr, agentID string) (st wire.AgentStatus, ok bool, err error) {
	c, err := mqttDial(brokerAddr, fmt.Sprintf("e2e-status-%d", time.Now().UnixNano()), 3*time.Second)
	if err != nil {
		return st, false, err
	}
	defer c.close()
	if err := c.subscribe(topic.For(agentID, topic.Status), 3*time.Second); err != nil {
		return st, false, fmt.Errorf("subscribe to the status: %w", err)
	}
	// A retained message is sent right after the SUBACK.
	msg, got := c.next(2 * time.Second)
	if !got {
		return st, false, errors.New("no retained status")
	}
	st, err = wire.DecodeAgentStatus(msg.Payload)
	if err != nil {
		return st, false, fmt.Errorf("retained status %s: %w", msg.Payload, err)
	}
	return st, true, nil
}

// publishRetained publishes payload retained at QoS 1.
func publishRetained(t *testing.T, brokerAddr, topicName string, payload []byte) {
	t.Helper()
	publish(t, brokerAddr, topicName, payload, true)
}

// publish publishes payload at QoS 1.
func publish(t *testing.T, brokerAddr, topicName string, payload []byte, retained bool) {
	t.Helper()
	c, err := mqttDial(brokerAddr, fmt.Sprintf("e2e-pub-%d", time.Now().UnixNano()), 5*time.Second)
	if err != nil {
		t.Fatalf("connect to %s to publish on %s: %v", brokerAddr, topicName, err)
	}
	defer c.close()
	if err := c.publish(topicName, payload, retained, 5*time.Second); err != nil {
		t.Fatalf("publish on %s: %v", topicName, err)
	}
}
