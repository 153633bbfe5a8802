package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/printersim/sim"
	"github.com/meterline/meterline/shared/schema/schematest"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// The reliability tests run the agent and the collector binaries against
// a private Mosquitto and break things on the way: the broker dies, hangs
// or drops messages, the collector is away, the agent is killed. Each
// checks that every read the agent took reaches the database once, in
// order, and that the agent's outbox ends empty.

const (
	// pollEvery is the agent's poll interval in these tests.
	pollEvery = time.Second
	// maxReadGap is the largest step allowed between two stored read times
	// of one device when rounds take less than the poll interval (see
	// rig.readGapLimit): two poll intervals, plus one second because read
	// times are truncated to the second.
	maxReadGap = 2*pollEvery + time.Second
	// ackTimeout is the agent's wait for the collector's ack before it
	// sends a batch again.
	ackTimeout = "2s"
	// drainLimit guards every wait for the outbox to drain.
	drainLimit = 90 * time.Second
)

// rig is one test's world: a private broker, simulated printers, a
// database, and the agent's configuration.
type rig struct {
	t       *testing.T
	broker  *mosquitto
	fleet   *sim.Fleet
	devices []sim.DeviceInfo
	agentID string
	// community is the SNMP community of the rig's printers and agent, its
	// own: a port freed by closed printers and bound again by another
	// test's simulator (ports are reused at random) must not feed this
	// agent reads, nor this rig's printers another test's agent.
	community string
	conf      string
	dbURL     string
	db        *sql.DB
	agents    []*process // every agent process started, in order
	killed    int        // agent processes ended by SIGKILL
}

// newRig starts a private broker (with extra configuration lines) and n
// simulated printers, and opens a database: SQLite in a temporary
// directory, or a throwaway PostgreSQL database when postgres is true and
// METERLINE_TEST_POSTGRES_URL is set.
func newRig(t *testing.T, n int, postgres bool, brokerExtra ...string) *rig {
	t.Helper()
	r := &rig{t: t, broker: startMosquitto(t, brokerExtra...)}
	r.agentID = fmt.Sprintf("rel-%d", time.Now().UnixNano())
	r.community = "c-" + r.agentID
	r.serve(n)

	if postgres && os.Getenv("METERLINE_TEST_POSTGRES_URL") != "" {
		r.dbURL = schematest.PostgresURL(t)
		runCmd(t, "meterline-collector", "-migrate", "-database", r.dbURL)
		t.Logf("database: PostgreSQL")
	} else {
		r.dbURL = "sqlite:" + filepath.Join(t.TempDir(), "meterline.db")
		runCmd(t, "meterline-collector", "-migrate", "-database", r.dbURL)
	}
	r.db = openDB(t, r.dbURL)
	return r
}

// serve starts n simulated printers (the demo fleet, replicated past its
// size), in place of those served before.
func (r *rig) serve(n int) {
	r.t.Helper()
	if r.fleet != nil {
		r.fleet.Close()
	}
	devs := sim.DemoFleet()
	if n > len(devs) {
		devs = sim.Replicate(devs, n)
	}
	fleet, err := sim.Serve(context.Background(), devs[:n], sim.Options{Host: "127.0.0.1", Community: r.community})
	if err != nil {
		r.t.Fatalf("serve %d simulated printers: %v", n, err)
	}
	r.t.Cleanup(func() { fleet.Close() })
	r.fleet, r.devices = fleet, fleet.Devices()
}

// writeAgentConfig writes the agent's configuration; outbox holds the
// lines of its [outbox] section (none: the section is left out).
func (r *rig) writeAgentConfig(pollInterval string, outbox ...string) {
	var targets []string
	for _, d := range r.devices {
		targets = append(targets, strconv.Quote(d.Addr.String()))
	}
	conf := fmt.Sprintf(`agent_id = %q
poll_interval = %q
device_timeout = "3s"
state_dir = %q
targets = [%s]

[mqtt]
url = %q

[snmp]
community = %q
version = "2c"
timeout = "1s"
retries = 0
`, r.agentID, pollInterval, filepath.Join(r.t.TempDir(), "state"), strings.Join(targets, ", "), r.broker.url(), r.community)
	if len(outbox) > 0 {
		conf += "\n[outbox]\n" + strings.Join(outbox, "\n") + "\n"
	}
	if r.conf == "" {
		r.conf = filepath.Join(r.t.TempDir(), "agent.toml")
	}
	writeFile(r.t, r.conf, conf)
}

// startAgent runs the agent on the configuration written last, logging
// at debug level so that every batch it numbers is in its log.
func (r *rig) startAgent() *process {
	r.t.Helper()
	p := start(r.t, "meterline-agent", "run", "--config", r.conf, "--log-level", "debug")
	r.agents = append(r.agents, p)
	return p
}

// killAgent ends the running agent with SIGKILL: no goodbye, no flush.
func (r *rig) killAgent() {
	p := r.agents[len(r.agents)-1]
	p.cmd.Process.Kill()
	<-p.done
	r.killed++
}

// startCollector runs a collector replica with a stable client id (its
// persistent session at the broker is kept across restarts).
func (r *rig) startCollector(clientID string) *process {
	r.t.Helper()
	return start(r.t, "meterline-collector", "-mqtt", r.broker.url(), "-database", r.dbURL,
		"-share-group", "g-"+r.agentID, "-client-id", clientID, "-data-dir", r.t.TempDir())
}

// logLine is one JSON line of an agent's log.
type logLine map[string]any

func (l logLine) msg() string { s, _ := l["msg"].(string); return s }

func (l logLine) num(key string) (float64, bool) { n, ok := l[key].(float64); return n, ok }

// logLines parses a process's JSON log; other lines are skipped.
func logLines(p *process) []logLine {
	var out []logLine
	for line := range strings.SplitSeq(p.output(), "\n") {
		var l logLine
		if json.Unmarshal([]byte(line), &l) == nil && l.msg() != "" {
			out = append(out, l)
		}
	}
	return out
}

// rounds returns, for every poll round an agent logged, how many devices
// it read.
func rounds(p *process) []int {
	var out []int
	for _, l := range logLines(p) {
		if l.msg() == "poll round done" {
			n, _ := l.num("devices_read")
			out = append(out, int(n))
		}
	}
	return out
}

// longestRound returns the longest poll round with reads the agents of r
// logged (a round that read nothing spaces no reads).
func (r *rig) longestRound() time.Duration {
	var longest float64
	for _, p := range r.agents {
		for _, l := range logLines(p) {
			d, _ := l.num("duration_seconds")
			if n, _ := l.num("devices_read"); l.msg() == "poll round done" && n > 0 {
				longest = max(longest, d)
			}
		}
	}
	return time.Duration(longest * float64(time.Second))
}

// readGapLimit is the largest step allowed between two stored read times
// of one device: maxReadGap, or, on a machine so busy that rounds take
// longer than the poll interval (they start no closer than they last),
// two of the longest round plus a second.
func (r *rig) readGapLimit() time.Duration {
	return max(maxReadGap, 2*r.longestRound()+time.Second)
}

// roundsWithReads counts the rounds that read at least one device.
func roundsWithReads(p *process) int {
	n := 0
	for _, d := range rounds(p) {
		if d > 0 {
			n++
		}
	}
	return n
}

// storedSeqs returns the sequence numbers an agent logged as written to
// its outbox ("read batch stored", at debug level).
func storedSeqs(p *process) []uint64 {
	var out []uint64
	for _, l := range logLines(p) {
		if l.msg() == "read batch stored" {
			if n, ok := l.num("seq"); ok {
				out = append(out, uint64(n))
			}
		}
	}
	return out
}

// waitRounds waits until the agent p has logged at least n more rounds
// with reads than it had when called with from (a count from
// roundsWithReads).
func waitRounds(t *testing.T, p *process, from, n int, what string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d more poll rounds with reads %s", n, what), time.Duration(n)*pollEvery+30*time.Second, func() (bool, error) {
		select {
		case <-p.done:
			t.Fatalf("the agent exited while it should be polling %s", what)
		default:
		}
		got := roundsWithReads(p) - from
		return got >= n, fmt.Errorf("%d rounds so far", got)
	})
}

// storedBatches returns the sequence numbers of the agent's stored batches
// and the sum of their read counts.
func (r *rig) storedBatches() (seqs []uint64, reads int, err error) {
	rows, err := r.db.Query(`SELECT seq, reads FROM read_batches WHERE agent_id = $1 ORDER BY seq`, r.agentID)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var n int
		if err := rows.Scan(&seq, &n); err != nil {
			return nil, 0, err
		}
		seqs = append(seqs, uint64(seq))
		reads += n
	}
	return seqs, reads, rows.Err()
}

func (r *rig) batchCount() (int, error) {
	var n int
	err := r.db.QueryRow(`SELECT COUNT(*) FROM read_batches WHERE agent_id = $1`, r.agentID).Scan(&n)
	return n, err
}

// waitBatches waits until the database holds at least n of the agent's batches.
func (r *rig) waitBatches(n int, limit time.Duration, what string) {
	r.t.Helper()
	waitFor(r.t, fmt.Sprintf("%d stored batches %s", n, what), limit, func() (bool, error) {
		got, err := r.batchCount()
		if err != nil {
			return false, err
		}
		return got >= n, fmt.Errorf("%d stored", got)
	})
}

// status reads the agent's retained status from the private broker.
func (r *rig) status() (wire.AgentStatus, bool, error) {
	return retainedStatus(r.broker.addr, r.agentID)
}

// stopPrinters closes the simulated printers so that the agent takes no
// more reads, and waits until its running process logs a round that read
// nothing: from then on the set of reads it took is final.
func (r *rig) stopPrinters() {
	r.t.Helper()
	p := r.agents[len(r.agents)-1]
	before := len(rounds(p))
	r.fleet.Close()
	waitFor(r.t, "a poll round that reads nothing once the printers are gone", 30*time.Second, func() (bool, error) {
		rs := rounds(p)
		return len(rs) > before && slices.Contains(rs[before:], 0), nil
	})
}

// deliveryCheck says what a test expects of the whole run.
type deliveryCheck struct {
	// since: the retained status that shows the outbox empty must be
	// published at or after this time (the end of the trouble).
	since time.Time
	// seqJumps is how many breaks the stored sequence numbers may have
	// (a restarted agent may start again from a clock reading).
	seqJumps int
	// restartGap, when set, is the largest step between two read times of
	// a device allowed once (across an agent restart).
	restartGap time.Duration
	// dropped: the outbox bound dropped batches (the status counts them).
	dropped bool
}

// verifyDelivered stops the printers, waits until the agent's outbox is
// empty and the database holds every batch the agent took, and checks
// that each read is stored once, in order, with no hole in any device's
// series of read times.
func (r *rig) verifyDelivered(c deliveryCheck) {
	t := r.t
	t.Helper()
	r.stopPrinters()

	var taken, reads int
	var logged []uint64
	for _, p := range r.agents {
		taken += roundsWithReads(p)
		for _, n := range rounds(p) {
			reads += n
		}
		logged = append(logged, storedSeqs(p)...)
	}
	if len(logged) == 0 {
		t.Errorf("the agent logged no \"read batch stored\" line with a seq at debug level: cannot list the batches it numbered")
	}

	// The outbox is empty once a status published after the trouble says so.
	since := c.since.Truncate(time.Second)
	var last wire.AgentStatus
	waitFor(t, "the agent's retained status to show an empty outbox (outbox_depth 0)", drainLimit, func() (bool, error) {
		st, ok, err := r.status()
		if !ok {
			return false, err
		}
		last = st
		return st.OutboxDepth == 0 && !st.At.Before(since),
			fmt.Errorf("status %s at %s: outbox_depth %d, outbox_dropped %d", st.State, st.At.Format(time.RFC3339), st.OutboxDepth, st.OutboxDropped)
	})
	dropped := int(last.OutboxDropped)
	switch {
	case c.dropped && dropped == 0:
		t.Errorf("the status shows outbox_dropped 0 though the outbox bound was passed")
	case !c.dropped && dropped != 0:
		t.Errorf("the status shows outbox_dropped %d, want 0: nothing should have been dropped", dropped)
	}

	// Every round that read something is a batch (a small fleet fits in
	// one); a killed agent may lose the round it was storing.
	want := taken - dropped
	waitFor(t, fmt.Sprintf("at least %d stored batches (%d rounds with reads, %d dropped, %d agent processes killed)", want-r.killed, taken, dropped, r.killed),
		drainLimit, func() (bool, error) {
			n, err := r.batchCount()
			return n >= want-r.killed, fmt.Errorf("%d stored (%v)", n, err) //nolint:errorlint // a progress note for waitFor, err often nil: nothing to unwrap
		})
	seqs, batchReads, err := r.storedBatches()
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) < want-r.killed || len(seqs) > want {
		t.Errorf("%d batches stored for %d rounds with reads and %d dropped by the bound (want %d, or down to %d with %d agent processes killed)",
			len(seqs), taken, dropped, want, want-r.killed, r.killed)
	}
	if r.killed == 0 && !c.dropped && batchReads != reads {
		t.Errorf("the stored batches hold %d reads; the agent logged %d reads in its rounds", batchReads, reads)
	}

	// Every batch the agent logged as numbered is stored (but the dropped).
	stored := map[uint64]bool{}
	for _, s := range seqs {
		stored[s] = true
	}
	var missing []uint64
	for _, s := range logged {
		if !stored[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) != dropped {
		t.Errorf("%d batches the agent numbered are not stored (%v); the status counts %d dropped", len(missing), head(missing), dropped)
	}
	if c.dropped && len(missing) > 0 {
		// What the bound drops is the oldest.
		if maxMissing, minStored := slices.Max(missing), slices.Min(seqs); maxMissing > minStored {
			t.Errorf("batch %d is missing though the later batch %d is stored: the outbox dropped more than its oldest batches", maxMissing, minStored)
		}
	}

	// The sequence numbers run on, except across a restart.
	jumps := 0
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			jumps++
			if jumps > c.seqJumps {
				t.Errorf("stored batch numbers jump from %d to %d (%d jumps, %d allowed): batches are missing", seqs[i-1], seqs[i], jumps, c.seqJumps)
			}
		}
	}

	r.checkReadSeries(c.restartGap)
}

// checkReadSeries checks every device's stored reads: none twice, read
// times in batch order, and no step between two read times longer than
// maxReadGap (one step may reach restartGap when it is set).
func (r *rig) checkReadSeries(restartGap time.Duration) {
	t := r.t
	t.Helper()
	gapLimit := r.readGapLimit()
	var n, distinct int
	if err := r.db.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT CAST(device_id AS TEXT) || '@' || CAST(read_at AS TEXT))
		FROM meter_reads WHERE agent_id = $1`, r.agentID).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != distinct {
		t.Errorf("%d stored reads for %d distinct (device, read time): some read is stored twice", n, distinct)
	}
	rows, err := r.db.Query(`SELECT d.device_key, m.read_at, m.seq FROM meter_reads m JOIN devices d ON d.id = m.device_id
		WHERE m.agent_id = $1 ORDER BY d.device_key, m.read_at`, r.agentID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type point struct {
		at  time.Time
		seq int64
	}
	series := map[string][]point{}
	for rows.Next() {
		var key string
		var p point
		if err := rows.Scan(&key, &p.at, &p.seq); err != nil {
			t.Fatal(err)
		}
		series[key] = append(series[key], p)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(series) != len(r.devices) {
		t.Errorf("reads of %d devices stored, want %d", len(series), len(r.devices))
	}
	fewest, most := n, 0
	for key, ps := range series {
		long := 0
		for i := 1; i < len(ps); i++ {
			gap := ps[i].at.Sub(ps[i-1].at)
			if ps[i].seq < ps[i-1].seq {
				t.Errorf("device %s: the read of %s (batch %d) is in an earlier batch than the read of %s (batch %d): reads out of order",
					key, ps[i].at.Format(time.RFC3339), ps[i].seq, ps[i-1].at.Format(time.RFC3339), ps[i-1].seq)
			}
			if gap <= gapLimit {
				continue
			}
			long++
			if restartGap > 0 && long == 1 && gap <= restartGap {
				continue
			}
			t.Errorf("device %s: no read stored between %s and %s (%s, more than %s): reads are missing",
				key, ps[i-1].at.Format(time.RFC3339), ps[i].at.Format(time.RFC3339), gap, gapLimit)
		}
		fewest, most = min(fewest, len(ps)), max(most, len(ps))
	}
	t.Logf("%d reads of %d devices stored (%d to %d per device), none twice, in order, no gap over %s", n, len(series), fewest, most, gapLimit)
}

func head(s []uint64) []uint64 {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

func outboxConfig(extra ...string) []string {
	return append([]string{`ack_timeout = "` + ackTimeout + `"`}, extra...)
}

// TestBrokerOutage kills the broker for several poll intervals while the
// agent polls, starts it again on the same port, and checks that every
// read taken during the outage arrives once.
func TestBrokerOutage(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, false)
	r.writeAgentConfig("1s", outboxConfig()...)
	r.startCollector("collector-" + r.agentID)
	agent := r.startAgent()
	r.waitBatches(2, 60*time.Second, "before the outage")

	before := roundsWithReads(agent)
	r.broker.kill()
	waitRounds(t, agent, before, 6, "while the broker is down")
	r.broker.start()
	restored := time.Now()
	waitRounds(t, agent, roundsWithReads(agent), 2, "after the broker is back")

	r.verifyDelivered(deliveryCheck{since: restored})
}

// TestAgentKilledWhileDraining builds a backlog with the collector away,
// starts the collector and SIGKILLs the agent while the backlog drains,
// then restarts the agent on the same state: every batch arrives once.
// It runs on PostgreSQL when METERLINE_TEST_POSTGRES_URL is set.
func TestAgentKilledWhileDraining(t *testing.T) {
	t.Parallel()
	r := newRig(t, 14, true)
	r.writeAgentConfig("1s", outboxConfig()...)
	agent := r.startAgent()
	waitRounds(t, agent, 0, 10, "with the collector away (backlog)")

	r.startCollector("collector-" + r.agentID)
	// Kill as soon as part of the backlog is stored: a tight loop, since
	// a small backlog drains in well under a second.
	deadline := time.Now().Add(60 * time.Second)
	var storedAtKill int
	for {
		n, err := r.batchCount()
		if err == nil && n > 0 {
			r.killAgent()
			storedAtKill, _ = r.batchCount()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no batch stored within 60s of the collector's start (last error: %v)", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("agent killed with %d of its %d batches stored", storedAtKill, len(storedSeqs(agent)))
	if storedAtKill >= len(storedSeqs(agent)) {
		t.Logf("note: the backlog was already drained when the kill landed; the restart still has to go on from there")
	}

	r.startAgent()
	restarted := time.Now()
	waitRounds(t, r.agents[1], 0, 3, "after the restart")
	r.verifyDelivered(deliveryCheck{since: restarted, seqJumps: 1, restartGap: 6 * time.Second})
}

// TestOutboxBound polls with the collector away until the outbox passes
// its byte bound: the oldest batches are dropped and counted, the depth
// stays bounded, and what remains arrives once the collector starts.
//
// The printers stop before the collector starts: a round stored while the
// collector drains would drop the oldest batch, which the collector may
// have stored already (its ack on the way), and the count of dropped
// batches would no longer be the count of batches missing.
func TestOutboxBound(t *testing.T) {
	t.Parallel()
	// The agent refuses a max_bytes under 1 MiB: serve enough printers
	// for a round's batch to be about 1/3.5 of it.
	const maxBytes = 1 << 20
	r := newRig(t, 14, false)
	perDevice := r.batchSize() / len(r.devices)
	r.serve(maxBytes*2/(7*perDevice) + 1)
	size := perDevice * len(r.devices) // the demo printers, cycled
	t.Logf("%d printers, a batch of about %d bytes, max_bytes %d", len(r.devices), size, maxBytes)
	r.writeAgentConfig("1s", outboxConfig(fmt.Sprintf("max_bytes = %d", maxBytes))...)
	agent := r.startAgent()
	waitRounds(t, agent, 0, 8, "with the collector away")

	var st wire.AgentStatus
	waitFor(t, "a retained status with outbox_dropped > 0", 30*time.Second, func() (bool, error) {
		s, ok, err := r.status()
		if !ok {
			return false, err
		}
		st = s
		return s.OutboxDropped > 0, fmt.Errorf("outbox_depth %d, outbox_dropped %d", s.OutboxDepth, s.OutboxDropped)
	})
	// A batch is about perDevice bytes a read; allow for reads growing by a
	// few bytes. On a busy machine a round may miss printers (timeouts),
	// and more of its smaller batches fit: the smallest round so far
	// bounds the depth.
	smallest := slices.Min(slices.DeleteFunc(rounds(agent), func(n int) bool { return n == 0 }))
	if bound := maxBytes / (smallest * perDevice * 9 / 10); st.OutboxDepth > bound || st.OutboxDepth == 0 {
		t.Errorf("status outbox_depth %d with max_bytes %d and batches of at least %d reads of about %d bytes: want 1 to %d",
			st.OutboxDepth, maxBytes, smallest, perDevice, bound)
	}
	t.Logf("with the collector away: outbox_depth %d, outbox_dropped %d (max_bytes %d, batch about %d bytes)", st.OutboxDepth, st.OutboxDropped, maxBytes, size)

	r.stopPrinters()
	r.startCollector("collector-" + r.agentID)
	started := time.Now()
	r.verifyDelivered(deliveryCheck{since: started, dropped: true})
}

// batchSize is the size of one read batch of the rig's printers, as the
// agent encodes it.
func (r *rig) batchSize() int {
	r.t.Helper()
	b := wire.ReadBatch{Schema: wire.SchemaVersion, AgentID: r.agentID, Sequence: uint64(time.Now().Unix()), SentAt: time.Now().UTC().Truncate(time.Second)}
	for _, d := range r.devices {
		var read wire.DeviceRead
		out := runCmd(r.t, "meterline-agent", "read", "--target", d.Addr.String(), "--community", r.community)
		if err := json.Unmarshal(out, &read); err != nil {
			r.t.Fatalf("read %s: %v\n%s", d.Addr, err, out)
		}
		b.Reads = append(b.Reads, read)
	}
	payload, err := wire.Encode(b)
	if err != nil {
		r.t.Fatal(err)
	}
	return len(payload)
}

// TestBrokerDropsQueuedMessages runs a broker that keeps at most two
// queued messages per client: while the collector is away its persistent
// session overflows and Mosquitto drops batches silently. The agent sends
// again what is not acknowledged, so every read still arrives once.
func TestBrokerDropsQueuedMessages(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, false, "max_queued_messages 2", "max_inflight_messages 1")
	r.writeAgentConfig("1s", outboxConfig()...)
	clientID := "collector-" + r.agentID
	collector := r.startCollector(clientID)
	agent := r.startAgent()
	r.waitBatches(2, 60*time.Second, "with the collector up")

	collector.stop(t) // SIGTERM: a clean stop, the session stays at the broker
	waitRounds(t, agent, roundsWithReads(agent), 6, "with the collector away")
	r.startCollector(clientID)
	back := time.Now()
	waitRounds(t, agent, roundsWithReads(agent), 2, "after the collector is back")

	r.verifyDelivered(deliveryCheck{since: back})
	if out := r.broker.proc.output(); strings.Contains(out, "dropped") {
		t.Logf("the broker dropped messages, as intended: %s", firstLineWith(out, "dropped"))
	} else {
		t.Logf("note: the broker's log does not say it dropped messages")
	}
}

func firstLineWith(s, sub string) string {
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			return line
		}
	}
	return ""
}

// TestHungBrokerDoesNotStopPolling freezes the broker (SIGSTOP) with the
// agent connected: the agent keeps polling; once the broker resumes, the
// backlog drains.
func TestHungBrokerDoesNotStopPolling(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, false)
	r.writeAgentConfig("1s", outboxConfig()...)
	r.startCollector("collector-" + r.agentID)
	agent := r.startAgent()
	r.waitBatches(2, 60*time.Second, "before the broker hangs")

	r.broker.pause()
	paused := true
	t.Cleanup(func() {
		if paused {
			r.broker.resume()
		}
	})
	waitRounds(t, agent, roundsWithReads(agent), 6, "while the broker is frozen")
	r.broker.resume()
	paused = false
	resumed := time.Now()
	waitRounds(t, agent, roundsWithReads(agent), 2, "after the broker resumes")

	r.verifyDelivered(deliveryCheck{since: resumed})
}

// TestSilentBrokerAtStart starts the agent against a TCP listener that
// accepts its connection and never answers: the agent polls anyway. The
// listener then gives way to a real broker on the same port, and every
// read taken meanwhile arrives.
func TestSilentBrokerAtStart(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, false)
	r.broker.kill()
	l, err := net.Listen("tcp", r.broker.addr)
	if err != nil {
		t.Fatalf("listen on the broker's port %s: %v", r.broker.addr, err)
	}
	var conns []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // read nothing, answer nothing
		}
	}()
	r.writeAgentConfig("1s", outboxConfig()...)
	agent := r.startAgent()
	waitRounds(t, agent, 0, 6, "while the broker never answers")
	l.Close()
	<-accepted
	for _, c := range conns {
		c.Close()
	}
	if len(conns) == 0 {
		t.Errorf("the agent never connected to the silent listener")
	}

	r.broker.start()
	r.startCollector("collector-" + r.agentID)
	up := time.Now()
	waitRounds(t, agent, roundsWithReads(agent), 2, "after the broker is up")
	r.verifyDelivered(deliveryCheck{since: up})
}

// TestRemoteConfigPollInterval publishes a retained configuration with a
// shorter poll interval for an agent polling every 30s: without a restart
// it polls about every second.
func TestRemoteConfigPollInterval(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, false)
	r.writeAgentConfig("30s")
	r.startCollector("collector-" + r.agentID)
	agent := r.startAgent()
	r.waitBatches(1, 60*time.Second, "of the first round")
	first, _ := r.batchCount()

	cfg, err := wire.Encode(wire.AgentConfig{Schema: wire.SchemaVersion, PollInterval: "1s"})
	if err != nil {
		t.Fatal(err)
	}
	publishRetained(t, r.broker.addr, topic.For(r.agentID, topic.Config), cfg)
	changed := time.Now()
	// At 30s, at most one more round could come in 25s; at 1s, many. Eight
	// rounds leave at least three past the first two seconds, checked below.
	waitFor(t, "8 more stored batches within 25s of the new poll interval", 25*time.Second, func() (bool, error) {
		n, err := r.batchCount()
		return n >= first+8, fmt.Errorf("%d batches stored, %d before the change: %v", n, first, err) //nolint:errorlint // a progress note for waitFor, err often nil: nothing to unwrap
	})
	select {
	case <-agent.done:
		t.Fatalf("the agent exited")
	default:
	}
	if n := strings.Count(agent.output(), "meterline agent starting"); n != 1 {
		t.Errorf("the agent started %d times, want once (no restart)", n)
	}

	// The reads after the change come about every second.
	rows, err := r.db.Query(`SELECT d.device_key, m.read_at FROM meter_reads m JOIN devices d ON d.id = m.device_id
		WHERE m.agent_id = $1 ORDER BY d.device_key, m.read_at`, r.agentID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	prev := map[string]time.Time{}
	count := map[string]int{}
	for rows.Next() {
		var key string
		var at time.Time
		if err := rows.Scan(&key, &at); err != nil {
			t.Fatal(err)
		}
		if at.Before(changed.Add(2 * time.Second)) {
			continue
		}
		if p, ok := prev[key]; ok && at.Sub(p) > maxReadGap {
			t.Errorf("device %s: reads at %s and %s, %s apart, after the poll interval became 1s", key, p.Format(time.TimeOnly), at.Format(time.TimeOnly), at.Sub(p))
		}
		prev[key] = at
		count[key]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(count) != len(r.devices) {
		t.Errorf("reads of %d devices after the change, want %d", len(count), len(r.devices))
	}
	for key, n := range count {
		if n < 3 {
			t.Errorf("device %s: %d reads after the change, want at least 3", key, n)
		}
	}
}
