package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meterline/meterline/e2e/fleetsim"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema/schematest"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// The ingest tests feed the collector binary through a private Mosquitto
// and check what lands in the database: garbage between good payloads, a
// replica killed mid-stream, the database restarted mid-stream. Each
// compares the full set of reads published with the set stored.

// deadLetterBytes is how much of a refused payload the collector keeps
// (collector/internal/store.MaxDeadLetterBytes): every payload it reads,
// whole.
const deadLetterBytes = wire.MaxPayloadBytes

// startIngestCollector runs a collector replica on an external broker,
// logging JSON at debug level (a line per transaction of batches), and waits
// until it is subscribed (its operations server is off, as TestMain sets
// for every collector of the package). dbURL "" runs it on its default
// database, SQLite under dataDir, which it migrates itself.
func startIngestCollector(t *testing.T, brokerURL, dbURL, dataDir, group, clientID string) *process {
	t.Helper()
	args := []string{"-mqtt", brokerURL, "-data-dir", dataDir, "-share-group", group, "-client-id", clientID,
		"-log-format", "json", "-log-level", "debug"}
	if dbURL != "" {
		args = append(args, "-database", dbURL)
	}
	p, _ := startReady(t, 30*time.Second, "meterline-collector", args...)
	return p
}

// countLog counts the lines of p's JSON log with message msg.
func countLog(p *process, msg string) int {
	n := 0
	for _, l := range logLines(p) {
		if l.msg() == msg {
			n++
		}
	}
	return n
}

// alive fails the test if p has exited.
func alive(t *testing.T, p *process, what string) {
	t.Helper()
	select {
	case <-p.done:
		t.Errorf("%s exited (%v); its last output:\n%s", what, p.cmd.ProcessState, tail(p.output(), 3000))
	default:
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// readKey names one read as the database identifies it: device key and
// read time.
func readKey(deviceKey string, at time.Time) string {
	return deviceKey + "@" + at.UTC().Format(time.RFC3339Nano)
}

// batchKey names one batch: agent and sequence number.
func batchKey(agentID string, seq uint64) string { return fmt.Sprintf("%s#%d", agentID, seq) }

// meters are the billing counters of one read; -1 is absent.
type meters struct{ total, black, colour int64 }

func (m meters) String() string {
	return fmt.Sprintf("total %d black %d colour %d", m.total, m.black, m.colour)
}

// expectedReads lists the reads, by readKey, and the batches of a set of
// published batches.
func expectedReads(batches []wire.ReadBatch) (reads map[string]meters, seqs map[string]bool) {
	reads, seqs = map[string]meters{}, map[string]bool{}
	counter := func(r wire.DeviceRead, kind domain.CounterKind) int64 {
		if v, ok := r.Counter(kind); ok {
			return v
		}
		return -1
	}
	for _, b := range batches {
		seqs[batchKey(b.AgentID, b.Sequence)] = true
		for _, r := range b.Reads {
			reads[readKey(r.Key(b.AgentID), r.ReadAt)] = meters{
				counter(r, domain.CounterTotal), counter(r, domain.CounterBlack), counter(r, domain.CounterColour),
			}
		}
	}
	return reads, seqs
}

// expectedFleetReads lists the reads and the batches a simulated fleet
// publishes.
func expectedFleetReads(fleet *fleetsim.Fleet) (reads map[string]meters, seqs map[string]bool) {
	reads, seqs = map[string]meters{}, map[string]bool{}
	for _, r := range fleet.Expected() {
		reads[readKey("sn:"+wire.NormalizeSerial(r.Serial), r.ReadAt)] = meters{r.Total, r.Black, r.Colour}
	}
	for _, b := range fleet.Batches() {
		seqs[batchKey(b.AgentID, b.Seq)] = true
	}
	return reads, seqs
}

// storedReads returns every stored read of the agents whose id starts
// with prefix, by readKey, with how many rows there are (more rows than
// keys: a read stored twice).
func storedReads(db *sql.DB, prefix string) (reads map[string]meters, rows int, err error) {
	q, err := db.Query(`SELECT d.device_key, m.read_at, m.total, m.black, m.colour
		FROM meter_reads m JOIN devices d ON d.id = m.device_id
		WHERE m.agent_id LIKE $1`, prefix+"%")
	if err != nil {
		return nil, 0, fmt.Errorf("select stored reads: %w", err)
	}
	defer q.Close()
	reads = map[string]meters{}
	orAbsent := func(n sql.NullInt64) int64 {
		if n.Valid {
			return n.Int64
		}
		return -1
	}
	for q.Next() {
		var key string
		var at time.Time
		var total, black, colour sql.NullInt64
		if err := q.Scan(&key, &at, &total, &black, &colour); err != nil {
			return nil, 0, err
		}
		reads[readKey(key, at)] = meters{orAbsent(total), orAbsent(black), orAbsent(colour)}
		rows++
	}
	return reads, rows, q.Err()
}

// storedBatchKeys returns the (agent, seq) of every stored batch of the
// agents whose id starts with prefix, and the sum of their read counts.
func storedBatchKeys(db *sql.DB, prefix string) (keys map[string]bool, reads int, err error) {
	q, err := db.Query(`SELECT agent_id, seq, reads FROM read_batches WHERE agent_id LIKE $1`, prefix+"%")
	if err != nil {
		return nil, 0, fmt.Errorf("select stored batches: %w", err)
	}
	defer q.Close()
	keys = map[string]bool{}
	for q.Next() {
		var agent string
		var seq int64
		var n int
		if err := q.Scan(&agent, &seq, &n); err != nil {
			return nil, 0, err
		}
		keys[batchKey(agent, uint64(seq))] = true
		reads += n
	}
	return keys, reads, q.Err()
}

func countRows(db *sql.DB, query string, args ...any) (int, error) {
	var n int
	err := db.QueryRow(query, args...).Scan(&n)
	return n, err
}

// checkStoredExactly checks that the database holds every read expected,
// once, with its counters, every batch expected, and nothing else of these
// agents.
func checkStoredExactly(t *testing.T, db *sql.DB, prefix string, wantReads map[string]meters, wantBatches map[string]bool) {
	t.Helper()
	reads, rows, err := storedReads(db, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if rows != len(wantReads) {
		t.Errorf("%d rows in meter_reads for %d reads published", rows, len(wantReads))
	}
	if rows != len(reads) {
		t.Errorf("%d rows in meter_reads for %d distinct (device, read time): some read is stored twice", rows, len(reads))
	}
	if missing, extra := setDiff(wantReads, reads); len(missing)+len(extra) > 0 {
		t.Errorf("stored reads differ from those published: %d missing (%v), %d not published (%v)",
			len(missing), headStrings(missing), len(extra), headStrings(extra))
	}
	wrong := 0
	for k, want := range wantReads {
		if got, ok := reads[k]; ok && got != want {
			if wrong++; wrong <= 5 {
				t.Errorf("read %s stored with %s, published with %s", k, got, want)
			}
		}
	}
	if wrong > 5 {
		t.Errorf("%d reads stored with counters other than those published", wrong)
	}
	batches, batchReads, err := storedBatchKeys(db, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if missing, extra := setDiff(wantBatches, batches); len(missing)+len(extra) > 0 {
		t.Errorf("read_batches differs from the batches published: %d missing (%v), %d not published (%v)",
			len(missing), headStrings(missing), len(extra), headStrings(extra))
	}
	if batchReads != len(wantReads) {
		t.Errorf("read_batches counts %d reads, %d were published", batchReads, len(wantReads))
	}
}

// setDiff returns the keys want has and got lacks, and the reverse, sorted.
func setDiff[V1, V2 any](want map[string]V1, got map[string]V2) (missing, extra []string) {
	for k := range want {
		if _, ok := got[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

func headStrings(s []string) []string {
	if len(s) > 5 {
		return append(slices.Clip(s[:5]), "…")
	}
	return s
}

// testBatch builds a valid read batch of n devices read at at.
func testBatch(agentID string, seq uint64, n int, at time.Time) wire.ReadBatch {
	b := wire.ReadBatch{Schema: wire.SchemaVersion, AgentID: agentID, Sequence: seq, SentAt: at}
	for i := range n {
		b.Reads = append(b.Reads, wire.DeviceRead{
			Serial:  fmt.Sprintf("%s-D%02d", strings.ToUpper(agentID), i),
			Vendor:  "Test",
			Model:   "Ingest 1",
			Address: fmt.Sprintf("127.0.0.1:%d", 16100+i),
			ReadAt:  at,
			Counters: []wire.Counter{
				{Kind: domain.CounterTotal, Value: int64(1000*i) + int64(seq)},
				{Kind: domain.CounterBlack, Value: int64(1000*i) + int64(seq)},
			},
		})
	}
	return b
}

// badPayload is one message the collector must refuse, whole or in part.
type badPayload struct {
	name    string
	kind    topic.Kind
	payload []byte
	// reason is what the dead letter's reason must contain, and the ack's.
	reason string
	// seq is the sequence of a read batch the collector settles with its
	// agent (rejected whole, or with a read refused alone); 0 for a
	// payload whose agent or sequence cannot be told.
	seq uint64
	// refusedRead is the index of the one read refused alone, the rest of
	// the batch being stored (kept); -1 when the payload is refused whole.
	refusedRead int
	kept        wire.ReadBatch
}

// badPayloads returns the garbage published between the good batches of
// agentID; bad read batches carry sequence numbers from 900 on, which no
// good batch uses.
func badPayloads(t *testing.T, agentID string, now time.Time) []badPayload {
	enc := func(v any) []byte { return mustEncode(t, v) }
	noSchema := testBatch(agentID, 902, 2, now)
	noSchema.Schema = 0
	noSchemaJSON := bytes.Replace(enc(noSchema), []byte(`"schema":0,`), nil, 1)
	if bytes.Contains(noSchemaJSON, []byte(`"schema"`)) {
		t.Fatalf("the no-schema payload has a schema: %s", noSchemaJSON)
	}
	wrongSchema := testBatch(agentID, 901, 2, now)
	wrongSchema.Schema = wire.SchemaVersion + 1
	negative := testBatch(agentID, 904, 2, now.Add(-time.Hour))
	negative.Reads[1].Counters[0].Value = -5
	negativeKept := negative
	negativeKept.Reads = negative.Reads[:1]
	future := testBatch(agentID, 905, 2, now.Add(-2*time.Hour))
	future.Reads[0].ReadAt = now.Add(30 * 24 * time.Hour)
	futureKept := future
	futureKept.Reads = future.Reads[1:]
	otherAgent := testBatch(agentID+"-other", 906, 2, now)

	// Over the limit with a field the decoder would ignore: only the size
	// is wrong.
	huge := []byte(fmt.Sprintf(`{"schema":1,"agent_id":%q,"seq":903,"reads":[],"padding":"`, agentID))
	huge = append(huge, bytes.Repeat([]byte("x"), 2<<20)...)
	huge = append(huge, `"}`...)

	whole := func(name string, kind topic.Kind, payload []byte, reason string, seq uint64) badPayload {
		return badPayload{name: name, kind: kind, payload: payload, reason: reason, seq: seq, refusedRead: -1}
	}
	return []badPayload{
		whole("not JSON", topic.Reads, []byte("this is not JSON {"), "invalid: not a JSON object", 0),
		whole("JSON array", topic.Reads, []byte(`[{"schema":1},2,3]`), "invalid: not a JSON object", 0),
		whole("wrong schema version", topic.Reads, enc(wrongSchema), "schema: schema version 2 is not supported", 901),
		whole("no schema", topic.Reads, noSchemaJSON, "schema: no schema version", 902),
		whole("oversized", topic.Reads, huge, "too_large: payload of", 0),
		{name: "negative counter", kind: topic.Reads, payload: enc(negative), reason: "counter total is negative", seq: 904, refusedRead: 1, kept: negativeKept},
		{name: "read time in the future", kind: topic.Reads, payload: enc(future), reason: "is in the future", seq: 905, refusedRead: 0, kept: futureKept},
		whole("agent id not the topic's", topic.Reads, enc(otherAgent), fmt.Sprintf("agent id %q in the payload is not %q", agentID+"-other", agentID), 0),
		whole("malformed status", topic.Status, []byte(fmt.Sprintf(`{"schema":1,"agent_id":%q,"state":"asleep"}`, agentID)), `agent state "asleep" is not online or offline`, 0),
		whole("malformed event", topic.Events, []byte(fmt.Sprintf(`{"schema":1,"agent_id":%q,"id":"","kind":"jam","at":%q}`, agentID, now.Format(time.RFC3339))), "event id missing", 0),
	}
}

// TestIngestGarbageBetweenGoodPayloads publishes every kind of bad payload
// between good read batches, then every bad payload again, and checks that
// each good batch is stored and acknowledged; that a batch with bad reads
// has its good reads stored and is acknowledged with the bad ones refused,
// each of which is a dead letter of its own; that every other bad payload
// is one dead letter with its cause, a batch among them rejected in an
// ack when its agent and sequence can be read; that re-sends are
// acknowledged the same and add no dead letter; and that the collector
// keeps running.
func TestIngestGarbageBetweenGoodPayloads(t *testing.T) {
	for _, tc := range []struct {
		name     string
		postgres bool
	}{
		{"postgres", true},
		{"sqlite", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Mosquitto 2.0 has no size limit by default; set one above the
			// oversized payload so it surely reaches the collector.
			broker := startMosquitto(t, "message_size_limit 8388608")
			dataDir := t.TempDir()
			dbURL := ""
			if tc.postgres {
				dbURL = schematest.PostgresURL(t)
				runCmd(t, "meterline-collector", "-migrate", "-database", dbURL)
			}
			agentID := fmt.Sprintf("garbage-%d", time.Now().UnixNano())
			collector := startIngestCollector(t, broker.url(), dbURL, dataDir, "g-"+agentID, "c-"+agentID)
			if dbURL == "" {
				dbURL = "sqlite:" + filepath.Join(dataDir, "meterline.db")
			}
			db := openDB(t, dbURL)
			checkGarbage(t, broker, collector, db, agentID)
		})
	}
}

func checkGarbage(t *testing.T, broker *mosquitto, collector *process, db *sql.DB, agentID string) {
	client, err := mqttDial(broker.addr, "e2e-garbage-"+agentID, 5*time.Second)
	if err != nil {
		t.Fatalf("connect to the private broker: %v", err)
	}
	defer client.close()
	if err := client.subscribe(topic.For(agentID, topic.Acks), 5*time.Second); err != nil {
		t.Fatalf("subscribe to the acks: %v", err)
	}

	now := time.Now().UTC().Truncate(time.Second)
	bad := badPayloads(t, agentID, now)
	settledBad := map[uint64]badPayload{}
	for _, b := range bad {
		if b.seq != 0 {
			settledBad[b.seq] = b
		}
	}
	// A good batch before each bad payload and one after the last.
	var good []wire.ReadBatch
	for i := range len(bad) + 1 {
		good = append(good, testBatch(agentID, uint64(i+1), 3, now.Add(time.Duration(i-len(bad)-1)*time.Minute)))
	}
	publishBad := func(b badPayload) {
		if err := client.publish(topic.For(agentID, b.kind), b.payload, false, 10*time.Second); err != nil {
			t.Fatalf("publish %s: %v", b.name, err)
		}
	}
	for i, g := range good {
		if err := client.publish(topic.For(agentID, topic.Reads), mustEncode(t, g), false, 10*time.Second); err != nil {
			t.Fatalf("publish good batch %d: %v", g.Sequence, err)
		}
		if i < len(bad) {
			publishBad(bad[i])
		}
	}

	// Every good batch is acknowledged to the agent, and every bad batch
	// whose sequence can be read: rejected, or with its bad read refused.
	acked := map[uint64]int{}
	receiveAcks := func(what string, done func() bool) {
		waitFor(t, what, 30*time.Second, func() (bool, error) {
			for {
				msg, ok := client.next(0)
				if !ok {
					break
				}
				ack, err := wire.DecodeAck(msg.Payload)
				if err != nil {
					t.Errorf("undecodable ack on %s: %v: %s", msg.Topic, err, msg.Payload)
					continue
				}
				if ack.AgentID != agentID {
					t.Errorf("ack on %s names agent %q", msg.Topic, ack.AgentID)
				}
				for _, s := range ack.Sequences {
					acked[s]++
				}
				for _, a := range ack.Batches {
					checkBatchAck(t, a, settledBad)
				}
			}
			return done(), fmt.Errorf("acked so far: %v", acked)
		})
	}
	receiveAcks(fmt.Sprintf("acks of the %d good batches and %d bad ones", len(good), len(settledBad)), func() bool {
		for _, g := range good {
			if acked[g.Sequence] == 0 {
				return false
			}
		}
		for seq := range settledBad {
			if acked[seq] == 0 {
				return false
			}
		}
		return true
	})
	for s := range acked {
		if _, ok := settledBad[s]; s >= 900 && !ok {
			t.Errorf("batch %d, whose agent or sequence cannot be told, was acknowledged", s)
		}
	}

	// Every payload refused whole is one dead letter, and every read
	// refused alone.
	waitFor(t, fmt.Sprintf("%d dead letters", len(bad)), 30*time.Second, func() (bool, error) {
		n, err := countRows(db, `SELECT COUNT(*) FROM dead_letters`)
		return n >= len(bad), fmt.Errorf("%d dead letters (%v)", n, err) //nolint:errorlint // a progress note for waitFor, err often nil: nothing to unwrap
	})

	// The agent re-sends every bad payload: each batch is acknowledged
	// again, with the same refusal, and no dead letter is added: those of
	// payloads refused whole count the repeat.
	for _, b := range bad {
		publishBad(b)
	}
	receiveAcks("the bad batches acknowledged again", func() bool {
		for seq := range settledBad {
			if acked[seq] < 2 {
				return false
			}
		}
		return true
	})
	refusedWhole := 0
	for _, b := range bad {
		if b.refusedRead < 0 {
			refusedWhole++
		}
	}
	waitFor(t, "every payload refused whole counted as repeated", 30*time.Second, func() (bool, error) {
		n, err := countRows(db, `SELECT COALESCE(SUM(repeats), 0) FROM dead_letters WHERE read_index IS NULL`)
		return n >= refusedWhole, fmt.Errorf("%d repeats (%v), want %d", n, err, refusedWhole) //nolint:errorlint // a progress note for waitFor, err often nil: nothing to unwrap
	})

	type letter struct {
		topic, reason, agent string
		seq, index           sql.NullInt64
		repeats              int
		payload              []byte
	}
	rows, err := db.Query(`SELECT topic, reason, agent_id, seq, read_index, repeats, payload FROM dead_letters ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var letters []letter
	for rows.Next() {
		var l letter
		if err := rows.Scan(&l.topic, &l.reason, &l.agent, &l.seq, &l.index, &l.repeats, &l.payload); err != nil {
			t.Fatal(err)
		}
		letters = append(letters, l)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(letters) != len(bad) {
		t.Errorf("%d dead letters for %d bad payloads", len(letters), len(bad))
		for _, l := range letters {
			t.Logf("dead letter on %s: %s (%d bytes)", l.topic, l.reason, len(l.payload))
		}
	}
	for _, b := range bad {
		kept := b.payload
		if len(kept) > deadLetterBytes {
			kept = kept[:deadLetterBytes]
		}
		var found []letter
		for _, l := range letters {
			if l.topic != topic.For(agentID, b.kind) || l.agent != agentID {
				continue
			}
			readAlone := b.refusedRead >= 0 && l.seq.Int64 == int64(b.seq) && l.index.Valid && l.index.Int64 == int64(b.refusedRead)
			if readAlone || b.refusedRead < 0 && !l.index.Valid && bytes.Equal(l.payload, kept) {
				found = append(found, l)
			}
		}
		switch {
		case len(found) == 0:
			t.Errorf("%s: no dead letter on %s with the payload kept (%d bytes) or the read refused", b.name, topic.For(agentID, b.kind), len(kept))
		case len(found) > 1:
			t.Errorf("%s: %d dead letters, want 1", b.name, len(found))
		case !strings.Contains(found[0].reason, b.reason):
			t.Errorf("%s: dead letter reason %q does not contain %q", b.name, found[0].reason, b.reason)
		case b.refusedRead < 0 && found[0].repeats != 1:
			t.Errorf("%s: dead letter repeats = %d, want 1 (sent twice)", b.name, found[0].repeats)
		case b.refusedRead >= 0 && found[0].repeats != 0:
			t.Errorf("%s: the read refused alone counts %d repeats, want 0 (its re-sent batch is a duplicate)", b.name, found[0].repeats)
		}
	}

	// Every good batch is stored, every read of it, and the good reads of
	// the batches with a bad read; nothing else.
	stored := slices.Clone(good)
	for _, b := range bad {
		if b.refusedRead >= 0 {
			stored = append(stored, b.kept)
		}
	}
	wantReads, wantBatches := expectedReads(stored)
	checkStoredExactly(t, db, agentID, wantReads, wantBatches)
	if n, err := countRows(db, `SELECT COUNT(*) FROM events WHERE agent_id = $1`, agentID); err != nil || n != 0 {
		t.Errorf("%d events stored (%v), want none: the only event published is malformed", n, err)
	}
	alive(t, collector, "the collector")
	t.Logf("%d good batches stored and acknowledged, %d bad payloads dead-lettered and settled", len(good), len(bad))
}

// checkBatchAck checks what an ack says of a bad batch: rejected with
// its reason, or with its bad read refused.
func checkBatchAck(t *testing.T, a wire.BatchAck, settledBad map[uint64]badPayload) {
	t.Helper()
	b, ok := settledBad[a.Seq]
	switch {
	case !ok:
		if a.Rejected != "" || len(a.Refused) != 0 {
			t.Errorf("batch %d acknowledged with refusals %+v, want none", a.Seq, a)
		}
	case b.refusedRead < 0:
		if !strings.Contains(a.Rejected, b.reason) || len(a.Refused) != 0 {
			t.Errorf("%s: ack %+v, want it rejected with %q", b.name, a, b.reason)
		}
	default:
		if a.Rejected != "" || len(a.Refused) != 1 || a.Refused[0].Index != b.refusedRead || !strings.Contains(a.Refused[0].Reason, b.reason) {
			t.Errorf("%s: ack %+v, want read %d refused with %q", b.name, a, b.refusedRead, b.reason)
		}
	}
}

// The stream tests: a simulated fleet publishes while something breaks.
const (
	streamAgents  = 20
	streamDevices = 10
	streamRounds  = 30
	// streamAckTimeout is the simulated agents' wait before a re-send.
	streamAckTimeout = 2 * time.Second
	// streamLimit guards the whole stream: far above what a healthy run
	// takes, so that a stuck ingest fails the test instead of hanging it.
	streamLimit = 50 * time.Second
)

// newStreamFleet builds the simulated fleet of a stream test on broker.
func newStreamFleet(t *testing.T, brokerURL, prefix string) (*fleetsim.Fleet, *lockedBuffer) {
	t.Helper()
	log := &lockedBuffer{}
	fleet, err := fleetsim.New(fleetsim.Config{
		BrokerURL:       brokerURL,
		Agents:          streamAgents,
		DevicesPerAgent: streamDevices,
		Rounds:          streamRounds,
		AgentPrefix:     prefix,
		AckTimeout:      streamAckTimeout,
		Logger:          slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("build the simulated fleet: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("---- log of the simulated fleet ----\n%s", tail(log.String(), 20000))
		}
	})
	return fleet, log
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runStream runs the fleet to the end and calls act once, on the test's
// goroutine, when at least a third of the batches are acknowledged. It
// fails the test if the stream does not complete within streamLimit.
func runStream(t *testing.T, fleet *fleetsim.Fleet, act func()) fleetsim.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), streamLimit)
	var (
		res  fleetsim.Result
		err  error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		res, err = fleet.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		fleet.Close()
	})

	total := fleet.Progress().TotalBatches
	acted := false
	for !acted {
		select {
		case <-done:
			t.Fatalf("the stream ended (%v) before a third of its %d batches were acknowledged: %+v", err, total, fleet.Progress())
		case <-time.After(20 * time.Millisecond):
		}
		if fleet.Progress().AckedBatches*3 >= total {
			act()
			acted = true
		}
	}
	<-done
	if err != nil {
		t.Fatalf("the stream did not complete: %v (progress %+v)", err, fleet.Progress())
	}
	return res
}

// checkStream checks, once the stream is done, that the database holds
// every read of the fleet once and no dead letter.
func checkStream(t *testing.T, db *sql.DB, fleet *fleetsim.Fleet, prefix string) {
	t.Helper()
	wantReads, wantBatches := expectedFleetReads(fleet)
	if len(wantReads) != fleet.TotalReads() {
		t.Fatalf("the fleet lists %d distinct reads for %d published", len(wantReads), fleet.TotalReads())
	}
	checkStoredExactly(t, db, prefix, wantReads, wantBatches)
	if n, err := countRows(db, `SELECT COUNT(*) FROM dead_letters`); err != nil || n != 0 {
		t.Errorf("%d dead letters (%v), want none: every batch of the fleet is valid", n, err)
	}
}

// batchLogs counts what a collector logged of the batches it stored (at
// debug level): every batch, and those that were already stored
// (duplicates).
func batchLogs(p *process) (stored, duplicates int) {
	for _, l := range logLines(p) {
		switch l.msg() {
		case "batches stored": // a transaction of several messages
			n, _ := l.num("batches")
			d, _ := l.num("duplicate_batches")
			stored += int(n)
			duplicates += int(d)
		case "batch stored":
			stored++
			if d, _ := l["duplicate"].(bool); d {
				duplicates++
			}
		}
	}
	return stored, duplicates
}

// TestIngestReplicaKilledMidStream runs two collector replicas in one
// share group and kills one with SIGKILL mid-stream, then restarts it
// with the same client id (as systemd would). Every read must end up
// stored exactly once.
func TestIngestReplicaKilledMidStream(t *testing.T) {
	broker := startMosquitto(t)
	dbURL := schematest.PostgresURL(t)
	runCmd(t, "meterline-collector", "-migrate", "-database", dbURL)
	db := openDB(t, dbURL)

	const prefix, group = "kill-", "ingest-kill"
	replica := func(n int) *process {
		return startIngestCollector(t, broker.url(), dbURL, t.TempDir(), group, fmt.Sprintf("replica-%d", n))
	}
	first, second := replica(1), replica(2)
	fleet, _ := newStreamFleet(t, broker.url(), prefix)

	var restarted *process
	res := runStream(t, fleet, func() {
		if err := first.cmd.Process.Kill(); err != nil {
			t.Fatalf("kill replica 1: %v", err)
		}
		<-first.done
		killed := fleet.Progress()
		t.Logf("replica 1 killed with %d of %d batches acknowledged (%d published)", killed.AckedBatches, killed.TotalBatches, killed.Published)
		time.Sleep(2 * time.Second)
		restarted = replica(1)
		t.Logf("replica 1 restarted with %d batches acknowledged", fleet.Progress().AckedBatches)
	})

	checkStream(t, db, fleet, prefix)
	alive(t, second, "replica 2")
	alive(t, restarted, "the restarted replica 1")
	s1, d1 := batchLogs(first)
	s2, d2 := batchLogs(second)
	s3, d3 := batchLogs(restarted)
	t.Logf("%d reads in %d batches stored once; %d batches re-sent after %s without an ack (%d publishes); stream took %s",
		res.Reads, res.Batches, res.Resent, streamAckTimeout, res.Published, res.Duration.Round(time.Millisecond))
	t.Logf("batches stored (duplicates): replica 1 before the kill %d (%d), replica 2 %d (%d), replica 1 restarted %d (%d)",
		s1, d1, s2, d2, s3, d3)
}

// TestIngestPostgresRestart stops a private PostgreSQL server (immediate
// mode, as a crash) mid-stream, keeps it down for a few seconds while the
// agents keep publishing, and starts it again: the collector must recover
// by itself and store every read exactly once.
func TestIngestPostgresRestart(t *testing.T) {
	broker := startMosquitto(t)
	pg := startPostgres(t)
	dbURL := pg.createDB("meterline")
	runCmd(t, "meterline-collector", "-migrate", "-database", dbURL)
	db := openDB(t, dbURL)

	const prefix = "pgrestart-"
	collector := startIngestCollector(t, broker.url(), dbURL, t.TempDir(), "ingest-pg", "collector-1")
	fleet, _ := newStreamFleet(t, broker.url(), prefix)

	res := runStream(t, fleet, func() {
		pg.stop("immediate")
		// Sampled once the server is down: acks before that are of commits
		// made while pg_ctl was stopping it.
		stopped := fleet.Progress()
		t.Logf("PostgreSQL stopped with %d of %d batches acknowledged (%d published)", stopped.AckedBatches, stopped.TotalBatches, stopped.Published)
		time.Sleep(3 * time.Second)
		down := fleet.Progress()
		pg.start()
		t.Logf("PostgreSQL started again; %d batches published and %d acknowledged while it was down",
			down.Published-stopped.Published, down.AckedBatches-stopped.AckedBatches)
	})

	checkStream(t, db, fleet, prefix)
	alive(t, collector, "the collector")
	retries := countLog(collector, "database write failed; retrying")
	stored, dups := batchLogs(collector)
	t.Logf("%d reads in %d batches stored once; %d batches re-sent after %s without an ack (%d publishes); stream took %s",
		res.Reads, res.Batches, res.Resent, streamAckTimeout, res.Published, res.Duration.Round(time.Millisecond))
	t.Logf("the collector logged %d failed database writes, %d batches stored (%d duplicates)", retries, stored, dups)
	if countLog(collector, "collector started") != 1 {
		t.Errorf("the collector started %d times, want once", countLog(collector, "collector started"))
	}
}
