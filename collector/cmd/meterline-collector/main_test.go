package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meterline/meterline/collector/internal/mqtttest"
	"github.com/meterline/meterline/collector/internal/store"
	"github.com/meterline/meterline/collector/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/ready"
	"github.com/meterline/meterline/shared/schema/schematest"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// noEnv keeps the tests' environment out of run: everything is a flag.
func noEnv(string) string { return "" }

// logRecords is the collector's stderr, decoded (run logs JSON lines), to
// show when a test fails. Tests wait on the ready file and the database,
// never on a log line.
type logRecords struct {
	mu      sync.Mutex
	partial []byte
	records []map[string]any
}

func newLogRecords() *logRecords { return &logRecords{} }

func (l *logRecords) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		line, rest, ok := bytes.Cut(l.partial, []byte("\n"))
		if !ok {
			break
		}
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			rec = map[string]any{"msg": string(line)}
		}
		l.records = append(l.records, rec)
		l.partial = rest
	}
	return len(p), nil
}

func (l *logRecords) dump() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.records {
		j, _ := json.Marshal(r)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// collector is a run in progress.
type collector struct {
	logs     *logRecords
	done     chan error
	cancel   context.CancelFunc
	stopOnce sync.Once
	stopErr  error
	// brokerAddr is the embedded broker's bound address, if any.
	brokerAddr string
	// opsAddr is the operations server's bound address, if any.
	opsAddr string
}

// startCollector runs the collector with the flags, logging JSON at debug
// level, and returns once it wrote its ready file (it is subscribed). The
// operations server listens on a port of its own unless args say
// otherwise: several collectors run in this process, and the default port
// would collide.
func startCollector(t *testing.T, args ...string) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{logs: newLogRecords(), done: make(chan error, 1), cancel: cancel}
	readyFile := filepath.Join(t.TempDir(), "ready.json")
	args = append([]string{"-log-format", "json", "-log-level", "debug", "-http-listen", "127.0.0.1:0", "-ready-file", readyFile}, args...)
	go func() { c.done <- run(ctx, args, noEnv, io.Discard, c.logs) }()
	t.Cleanup(func() {
		c.stop(t)
		if t.Failed() {
			t.Logf("collector log:\n%s", c.logs.dump())
		}
	})

	timeout := time.After(mqtttest.Wait)
	for {
		addrs, err := ready.Read(readyFile)
		if err == nil {
			c.brokerAddr, c.opsAddr = addrs["broker"], addrs["ops"]
			return c
		}
		if !ready.IsNotReady(err) {
			t.Fatal(err)
		}
		select {
		case err := <-c.done:
			c.done <- err // for stop
			t.Fatalf("collector exited (%v) before it was ready", err)
		case <-timeout:
			t.Fatal("the collector wrote no ready file")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// get fetches a path of the collector's operations server.
func (c *collector) get(t *testing.T, path string) (int, string) {
	t.Helper()
	if c.opsAddr == "" {
		t.Fatal("the collector bound no operations server")
	}
	client := &http.Client{Timeout: mqtttest.Wait}
	resp, err := client.Get("http://" + c.opsAddr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// waitStored waits until the database holds what exercise sent that is
// not acknowledged: three refused messages on readsTopic, the agent's
// status and its event; it fails if the collector exits first.
func (c *collector) waitStored(t *testing.T, dbURL, agentID, readsTopic string) {
	t.Helper()
	ctx := context.Background()
	rd := storetest.Open(t, dbURL)
	stored := func() (bool, string) {
		letters, err := rd.DeadLetters(ctx)
		if err != nil {
			return false, err.Error()
		}
		refused := 0
		for _, l := range letters {
			if l.Topic == readsTopic {
				refused++
			}
		}
		if refused < 3 {
			return false, fmt.Sprintf("%d messages dead-lettered on %s, want 3", refused, readsTopic)
		}
		if a, err := rd.Agent(ctx, agentID); err != nil || !a.Status.Valid {
			return false, fmt.Sprintf("no status of agent %s (%v)", agentID, err)
		}
		if events, err := rd.Events(ctx, agentID); err != nil || len(events) == 0 {
			return false, fmt.Sprintf("no event of agent %s (%v)", agentID, err)
		}
		return true, ""
	}
	timeout := time.After(mqtttest.Wait)
	for {
		ok, why := stored()
		if ok {
			return
		}
		select {
		case err := <-c.done:
			c.done <- err // for stop
			t.Fatalf("collector exited (%v) before storing: %s", err, why)
		case <-timeout:
			t.Fatalf("not stored: %s", why)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop cancels the run and returns its error.
func (c *collector) stop(t *testing.T) error {
	t.Helper()
	c.stopOnce.Do(func() {
		c.cancel()
		select {
		case c.stopErr = <-c.done:
		case <-time.After(mqtttest.Wait):
			t.Fatal("collector did not stop")
		}
	})
	return c.stopErr
}

func TestRunVersionAndConfigDump(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-version"}, "meterline-collector "},
		{[]string{"-config-dump", "-mqtt-username", "u", "-mqtt-password", "hunter2"}, "METERLINE_MQTT_PASSWORD=<redacted>\n"},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			var out bytes.Buffer
			if err := run(context.Background(), tt.args, noEnv, &out, io.Discard); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tt.want) || strings.Contains(out.String(), "hunter2") {
				t.Errorf("output %q, want it to contain %q and no secret", out.String(), tt.want)
			}
		})
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	err := run(context.Background(), []string{"-log-format", "xml"}, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-log-format") {
		t.Errorf("run = %v, want a -log-format error", err)
	}
}

func TestRunMigrateSQLite(t *testing.T) {
	dbURL := schematest.SQLiteURL(t)
	if err := run(context.Background(), []string{"-database", dbURL, "-migrate"}, noEnv, io.Discard, io.Discard); err != nil {
		t.Fatalf("run -migrate: %v", err)
	}
	checkSchema(t, dbURL)
}

func checkSchema(t *testing.T, dbURL string) {
	t.Helper()
	st, err := store.Open(context.Background(), dbURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CheckSchema(context.Background()); err != nil {
		t.Errorf("CheckSchema after -migrate: %v", err)
	}
}

// TestCollectorEmbeddedBrokerSQLite is the single-box setup: no broker
// configured, so the collector embeds one (on 127.0.0.1:0 here), and a
// fresh SQLite file that it migrates on its own.
func TestCollectorEmbeddedBrokerSQLite(t *testing.T) {
	dbURL := schematest.SQLiteURL(t)
	// The operations server is off here: that path is tested too.
	c := startCollector(t, "-database", dbURL, "-broker-listen", "127.0.0.1:0", "-client-id", "collector-test", "-http-listen", "")
	if c.brokerAddr == "" || strings.HasSuffix(c.brokerAddr, ":0") {
		t.Fatalf("broker address ready = %q, want the bound port", c.brokerAddr)
	}
	if c.opsAddr != "" {
		t.Errorf("ops server listening on %s with -http-listen \"\", want none", c.opsAddr)
	}
	exercise(t, c, "tcp://"+c.brokerAddr, dbURL, "agent-1")
}

// TestCollectorOps scrapes the operations server of a running collector
// (embedded broker, SQLite): alive, ready, and counting what it receives.
func TestCollectorOps(t *testing.T) {
	dbURL := schematest.SQLiteURL(t)
	c := startCollector(t, "-database", dbURL, "-broker-listen", "127.0.0.1:0", "-client-id", "collector-ops-test")
	if c.opsAddr == "" || strings.HasSuffix(c.opsAddr, ":0") {
		t.Fatalf("ops address ready = %q, want the bound port", c.opsAddr)
	}
	if status, body := c.get(t, "/healthz"); status != http.StatusOK || body != "ok\n" {
		t.Errorf("healthz = %d %q, want 200 ok", status, body)
	}
	if status, body := c.get(t, "/readyz"); status != http.StatusOK || body != "ready\n" {
		t.Errorf("readyz = %d %q, want 200 ready", status, body)
	}

	const agentID = "agent-ops"
	agent := mqtttest.Connect(t, "tcp://"+c.brokerAddr, agentID+"-test")
	acks := mqtttest.Subscribe(t, agent, topic.For(agentID, topic.Acks))
	batch, err := wire.Encode(wire.ReadBatch{Schema: wire.SchemaVersion, AgentID: agentID, Sequence: 1, SentAt: day,
		Reads: []wire.DeviceRead{{Serial: "SN-OPS", Vendor: "Xerox", Address: "127.0.2.10", ReadAt: day.Add(8 * time.Hour),
			Counters: []wire.Counter{{Kind: domain.CounterTotal, Value: 1000}}}}})
	if err != nil {
		t.Fatal(err)
	}
	mqtttest.Publish(t, agent, topic.For(agentID, topic.Reads), batch)
	mqtttest.Receive(t, acks) // committed: counted by now

	status, body := c.get(t, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("metrics = %d:\n%s", status, body)
	}
	for _, want := range []string{
		`meterline_collector_messages_received_total{kind="reads"} 1`,
		"meterline_collector_queue_depth ",
		"meterline_collector_agents_online ",
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}

	if err := c.stop(t); err != nil {
		t.Fatalf("collector stopped with %v", err)
	}
	if _, err := http.Get("http://" + c.opsAddr + "/healthz"); err == nil {
		t.Error("ops server still answers after the collector stopped")
	}
}

// TestCollectorMosquittoPostgres is the datacenter setup: an external
// broker and PostgreSQL, each test with its own agent, share group and
// schema so that tests running beside it do not interfere.
func TestCollectorMosquittoPostgres(t *testing.T) {
	mqttURL := mqtttest.ExternalURL(t)
	dbURL := schematest.PostgresURL(t)
	agentID := schematest.UniqueName(t, "agent-")
	clientID := schematest.UniqueName(t, "collector-test-")
	args := []string{"-database", dbURL, "-mqtt", mqttURL, "-http-listen", "127.0.0.1:0",
		"-share-group", schematest.UniqueName(t, "collectors-"), "-client-id", clientID}

	err := run(context.Background(), args, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-migrate") {
		t.Fatalf("run on an unmigrated PostgreSQL schema = %v, want a refusal that says to run -migrate", err)
	}
	if err := run(context.Background(), append(args, "-migrate"), noEnv, io.Discard, io.Discard); err != nil {
		t.Fatalf("run -migrate: %v", err)
	}
	checkSchema(t, dbURL)

	// The collector's session is persistent; end it with the test, or the
	// broker keeps queueing every agent's reads for it.
	t.Cleanup(func() { mqtttest.Connect(t, mqttURL, clientID) })
	c := startCollector(t, args...)
	exercise(t, c, mqttURL, dbURL, agentID)
}

var day = time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC)

// exercise plays an agent against a running collector: good batches with
// bad payloads between them and a duplicate, a status and an event; then
// stops the collector and checks what the database holds.
func exercise(t *testing.T, c *collector, brokerURL, dbURL, agentID string) {
	t.Helper()
	agent := mqtttest.Connect(t, brokerURL, agentID+"-test")
	acks := mqtttest.Subscribe(t, agent, topic.For(agentID, topic.Acks))
	readsTopic := topic.For(agentID, topic.Reads)

	serial := "SN-" + strings.ToUpper(agentID)
	mac := fmt.Sprintf("02:00:00:%s", agentID[len(agentID)-2:])
	colour := func(at time.Time, total, black, colour int64) wire.DeviceRead {
		return wire.DeviceRead{Serial: serial, Vendor: "Xerox", Model: "VersaLink C405", Address: "127.0.2.10", ReadAt: at,
			Counters: []wire.Counter{{Kind: domain.CounterTotal, Value: total}, {Kind: domain.CounterBlack, Value: black}, {Kind: domain.CounterColour, Value: colour}}}
	}
	// No serial: keyed by MAC. Only a total counter: black and colour stay NULL.
	mono := wire.DeviceRead{MAC: mac, Vendor: "Brother", Address: "127.0.2.11", ReadAt: day.Add(8 * time.Hour),
		Counters: []wire.Counter{{Kind: domain.CounterTotal, Value: 5000}}}
	batch := func(seq uint64, reads ...wire.DeviceRead) []byte {
		b, err := wire.Encode(wire.ReadBatch{Schema: wire.SchemaVersion, AgentID: agentID, Sequence: seq, SentAt: day, Reads: reads})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	oversized := []byte(`{"schema":1,"agent_id":"` + agentID + `","seq":99,"pad":"` + strings.Repeat("x", wire.MaxPayloadBytes) + `"}`)
	first := batch(1, colour(day.Add(8*time.Hour), 1000, 600, 400), mono)

	for _, payload := range [][]byte{
		first,
		[]byte("garbage, not JSON"),
		batch(2, colour(day.Add(12*time.Hour), 1100, 650, 450), mono), // mono re-sent: stored once
		[]byte(`{"schema":2,"agent_id":"` + agentID + `","seq":5,"reads":[]}`),
		oversized,
		batch(3, colour(day.Add(16*time.Hour), 1250, 700, 550)),
		first, // the agent missed the ack and re-sends
	} {
		mqtttest.Publish(t, agent, readsTopic, payload)
	}
	status, _ := wire.Encode(wire.AgentStatus{Schema: wire.SchemaVersion, AgentID: agentID, State: domain.AgentOnline, Version: "0.1.0"})
	mqtttest.Publish(t, agent, topic.For(agentID, topic.Status), status)
	event, _ := wire.Encode(wire.Event{Schema: wire.SchemaVersion, AgentID: agentID, ID: "ev-1", At: day, Kind: domain.EventTonerLow, Serial: serial})
	mqtttest.Publish(t, agent, topic.For(agentID, topic.Events), event)

	// Every good batch is acknowledged, and so is the batch of schema 2
	// (rejected, so that its agent stops re-sending it); garbage and the
	// oversized payload, whose sequence cannot be read, are not. One ack
	// carries the sequences of one transaction, so how they are split over
	// messages depends on timing; a batch and its re-send committed in one
	// transaction are acknowledged once, in separate ones twice.
	got := map[uint64]int{}
	rejected := map[uint64]string{}
	for got[1] < 1 || got[2] < 1 || got[3] < 1 || got[5] < 1 {
		ack, err := wire.DecodeAck(mqtttest.Receive(t, acks).Payload())
		if err != nil {
			t.Fatalf("decode ack: %v", err)
		}
		if ack.AgentID != agentID {
			t.Errorf("ack for agent %q, want %q", ack.AgentID, agentID)
		}
		for _, seq := range ack.Sequences {
			got[seq]++
		}
		for _, b := range ack.Batches {
			if b.Rejected != "" {
				rejected[b.Seq] = b.Rejected
			}
		}
	}
	if len(got) != 4 || got[1] > 2 || got[2] != 1 || got[3] != 1 || got[5] != 1 {
		t.Errorf("acks = %v, want sequences 1 (once or twice), 2, 3 and 5", got)
	}
	if len(rejected) != 1 || !strings.HasPrefix(rejected[5], domain.ESCHEMA+": ") {
		t.Errorf("rejected = %v, want batch 5 rejected for its schema", rejected)
	}
	c.waitStored(t, dbURL, agentID, readsTopic)
	if err := c.stop(t); err != nil {
		t.Fatalf("collector stopped with %v", err)
	}

	checkStored(t, dbURL, agentID, readsTopic, serial, mac)
}

// checkStored checks the database after exercise. It looks only at what
// belongs to the agent: other tests' agents may share the broker.
func checkStored(t *testing.T, dbURL, agentID, readsTopic, serial, mac string) {
	t.Helper()
	ctx := context.Background()
	rd := storetest.Open(t, dbURL)
	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := rd.GetContext(ctx, &n, rd.Rebind(query), args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	if n := count(`SELECT COUNT(*) FROM read_batches WHERE agent_id = ?`, agentID); n != 3 {
		t.Errorf("read batches = %d, want 3 (the duplicate stored once)", n)
	}
	if n := count(`SELECT COUNT(*) FROM meter_reads WHERE agent_id = ?`, agentID); n != 4 {
		t.Errorf("meter reads = %d, want 4 (3 of the colour device, 1 of the mono one re-sent)", n)
	}
	if n := count(`SELECT COUNT(*) FROM events WHERE agent_id = ?`, agentID); n != 1 {
		t.Errorf("events = %d, want 1", n)
	}

	latest := map[string]storetest.LatestRead{}
	reads, err := rd.LatestReads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reads {
		latest[r.DeviceKey] = r
	}
	if r, ok := latest["sn:"+serial]; !ok || *r.Total != 1250 || *r.Black != 700 || *r.Colour != 550 || !r.ReadAt.Equal(day.Add(16*time.Hour)) {
		t.Errorf("latest read of %s = %+v, want 1250/700/550 at 16:00", serial, r)
	}
	if r, ok := latest["mac:"+mac]; !ok || *r.Total != 5000 || r.Black != nil || r.Colour != nil {
		t.Errorf("latest read of %s = %+v, want total 5000 and no black or colour", mac, r)
	}

	agent, err := rd.Agent(ctx, agentID)
	if err != nil {
		t.Fatal(err)
	}
	if !agent.Online || agent.Version != "0.1.0" {
		t.Errorf("agent = %+v, want online, version 0.1.0", agent)
	}

	letters, err := rd.DeadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, l := range letters {
		if l.Topic != readsTopic {
			continue
		}
		reasons = append(reasons, l.Reason)
		if len(l.Payload) > store.MaxDeadLetterBytes {
			t.Errorf("dead letter payload of %d bytes, want at most %d", len(l.Payload), store.MaxDeadLetterBytes)
		}
	}
	want := []string{domain.EINVALID + ": not a JSON object", domain.ESCHEMA + ": schema version 2", domain.ETOOLARGE + ": payload of"}
	if len(reasons) != len(want) {
		t.Fatalf("dead letters = %q, want %d", reasons, len(want))
	}
	for _, w := range want {
		found := false
		for _, r := range reasons {
			found = found || strings.HasPrefix(r, w)
		}
		if !found {
			t.Errorf("dead letters = %q, want one starting %q", reasons, w)
		}
	}
}

// TestCollectorPrunesDeadLettersOnStart starts a collector on a database
// holding more dead letters of an agent than its cap: they are pruned at
// once, and the metrics say so.
func TestCollectorPrunesDeadLettersOnStart(t *testing.T) {
	dbURL := schematest.SQLiteURL(t)
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		m := store.RefusedMessage{Topic: topic.For("agent-1", topic.Reads), Reason: "invalid", Payload: fmt.Appendf(nil, "garbage %d", i), AgentID: "agent-1"}
		if _, err := st.SaveDeadLetter(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	c := startCollector(t, "-database", dbURL, "-broker-listen", "127.0.0.1:0", "-client-id", "collector-prune-test", "-dead-letter-max-per-agent", "2")
	want := []string{
		"meterline_collector_dead_letters_stored 2\n",
		`meterline_collector_dead_letters_pruned_total{why="agent_cap"} 3` + "\n",
	}
	deadline := time.Now().Add(mqtttest.Wait)
	for {
		_, body := c.get(t, "/metrics")
		missing := ""
		for _, line := range want {
			if !strings.Contains(body, line) {
				missing = line
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack %q", missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.stop(t); err != nil {
		t.Fatal(err)
	}
	letters, err := storetest.Open(t, dbURL).DeadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 2 || string(letters[0].Payload) != "garbage 3" || string(letters[1].Payload) != "garbage 4" {
		t.Errorf("dead letters left = %d, want the newest two", len(letters))
	}
}
