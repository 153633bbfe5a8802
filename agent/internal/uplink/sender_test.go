package uplink

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meterline/meterline/agent/internal/outbox"
	"github.com/meterline/meterline/shared/wire"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakePublisher records the batches handed to it. While hold is set, each
// PUBACK waits for release; failWith makes them fail.
type fakePublisher struct {
	mu        sync.Mutex
	connected bool
	sent      []wire.ReadBatch
	payloads  [][]byte
	hold      bool
	release   chan struct{}
	failWith  error
	onPublish func(wire.ReadBatch) // called outside the lock
}

func newFakePublisher() *fakePublisher {
	return &fakePublisher{connected: true, release: make(chan struct{})}
}

func (p *fakePublisher) PublishReads(payload []byte) func(context.Context) error {
	b, _, err := wire.DecodeReadBatch(payload, time.Now().Add(24*time.Hour))
	if err != nil {
		panic(fmt.Sprintf("published an invalid batch: %v", err))
	}
	p.mu.Lock()
	p.sent = append(p.sent, b)
	p.payloads = append(p.payloads, payload)
	hold, failWith, release, onPublish := p.hold, p.failWith, p.release, p.onPublish
	p.mu.Unlock()
	if onPublish != nil {
		onPublish(b)
	}
	return func(ctx context.Context) error {
		if hold {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return failWith
	}
}

func (p *fakePublisher) IsConnected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.connected
}

func (p *fakePublisher) setConnected(up bool) {
	p.mu.Lock()
	p.connected = up
	p.mu.Unlock()
}

func (p *fakePublisher) seqs() []uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []uint64
	for _, b := range p.sent {
		out = append(out, b.Sequence)
	}
	return out
}

// harness drives a Sender step by step, without Run: dispatch, then wait
// until every PUBACK is handled.
type harness struct {
	t     *testing.T
	box   *outbox.Outbox
	s     *Sender
	pub   *fakePublisher
	clock *fakeClock
	logs  *bytes.Buffer
	ctx   context.Context
	wg    sync.WaitGroup
}

var testStart = time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, path string, opts SenderOptions) *harness {
	t.Helper()
	h := &harness{t: t, pub: newFakePublisher(), clock: &fakeClock{t: testStart}, logs: &bytes.Buffer{}, ctx: t.Context()}
	box, err := outbox.Open(path, outbox.Options{SeqFloor: 100, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { box.Close() })
	h.box = box
	opts.AgentID = "site-1"
	opts.Now = h.clock.Now
	if opts.Jitter == nil {
		opts.Jitter = func(d time.Duration) time.Duration { return d } // deterministic
	}
	h.s = NewSender(box, opts, slog.New(slog.NewTextHandler(&lockedWriter{w: h.logs}, nil)))
	return h
}

// lockedWriter serialises writes from the PUBACK goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// step dispatches what is due and waits for the PUBACKs it started.
func (h *harness) step() {
	h.t.Helper()
	h.s.dispatch(h.ctx, h.pub, &h.wg)
	h.wg.Wait()
}

func (h *harness) deliver(n int) {
	h.t.Helper()
	for i := range n {
		read := wire.DeviceRead{Address: fmt.Sprintf("192.0.2.%d", i+1), ReadAt: h.clock.Now().Add(-time.Minute), Serial: "X"}
		if err := h.s.Deliver(h.ctx, []wire.DeviceRead{read}); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) ack(seqs ...uint64) {
	h.t.Helper()
	if err := h.tryAck(seqs...); err != nil {
		h.t.Fatal(err)
	}
}

// tryAck is ack for other goroutines than the test's: it returns its
// error rather than ending the test.
func (h *harness) tryAck(seqs ...uint64) error {
	payload, err := wire.Encode(wire.Ack{Schema: wire.SchemaVersion, AgentID: "site-1", Sequences: seqs, At: h.clock.Now()})
	if err != nil {
		return err
	}
	h.s.HandleAck(payload)
	return nil
}

func expectSeqs(t *testing.T, what string, got, want []uint64) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

func TestSenderPublishesAndAckDeletes(t *testing.T) {
	h := newHarness(t, filepath.Join(t.TempDir(), "outbox.db"), SenderOptions{})
	h.deliver(2)
	if st := h.s.Stats(); st.Depth != 2 || st.DevicesPolled != 1 {
		t.Fatalf("stats after deliver: %+v", st)
	}
	h.step()
	expectSeqs(t, "published", h.pub.seqs(), []uint64{100, 101})
	b := h.pub.sent[0]
	if b.Schema != wire.SchemaVersion || b.AgentID != "site-1" || !b.SentAt.Equal(testStart) || len(b.Reads) != 1 {
		t.Errorf("batch %+v", b)
	}
	h.ack(100)
	expectSeqs(t, "left in the outbox", h.box.Seqs(), []uint64{101})
	h.ack(101)
	if st := h.s.Stats(); st.Depth != 0 || st.Acked != 2 {
		t.Errorf("stats after acks: %+v", st)
	}
	// Long after, nothing is sent again.
	h.clock.Advance(time.Hour)
	h.step()
	expectSeqs(t, "published", h.pub.seqs(), []uint64{100, 101})
}

func TestSenderResendsWithBackoff(t *testing.T) {
	h := newHarness(t, filepath.Join(t.TempDir(), "outbox.db"), SenderOptions{AckTimeout: time.Minute, MaxBackoff: 5 * time.Minute})
	h.deliver(1)
	h.step()
	// attempt n waits 1m, 2m, 4m, then the 5m cap.
	waits := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for i, wait := range waits {
		h.clock.Advance(wait - time.Second)
		h.step()
		if n := len(h.pub.seqs()); n != i+1 {
			t.Fatalf("attempt %d: sent again after %s, before its %s wait ended", i+2, wait-time.Second, wait)
		}
		h.clock.Advance(time.Second)
		h.step()
		expectSeqs(t, fmt.Sprintf("after wait %d", i+1), h.pub.seqs(), slices.Repeat([]uint64{100}, i+2))
	}
	// Every copy is the stored payload, byte for byte: the read times are
	// the original ones.
	for i, p := range h.pub.payloads {
		if !bytes.Equal(p, h.pub.payloads[0]) {
			t.Errorf("copy %d differs from the first", i)
		}
	}
	if !strings.Contains(h.logs.String(), "sending it again") {
		t.Error("re-sends are not logged")
	}
}

func TestSenderRestartResendsPending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	h := newHarness(t, path, SenderOptions{})
	h.deliver(3)
	h.step()
	h.ack(101)
	first := map[uint64][]byte{}
	for i, b := range h.pub.sent {
		first[b.Sequence] = h.pub.payloads[i]
	}
	h.box.Close()

	// A restart: the same file, a fresh sender; no ack timeout to wait for.
	h2 := newHarness(t, path, SenderOptions{})
	h2.step()
	expectSeqs(t, "re-sent after restart", h2.pub.seqs(), []uint64{100, 102})
	for i, b := range h2.pub.sent {
		if !bytes.Equal(h2.pub.payloads[i], first[b.Sequence]) {
			t.Errorf("batch %d after restart differs from the one first sent", b.Sequence)
		}
	}
	// Numbering goes on past everything used.
	h2.deliver(1)
	expectSeqs(t, "outbox", h2.box.Seqs(), []uint64{100, 102, 103})
}

func TestSenderAcks(t *testing.T) {
	h := newHarness(t, filepath.Join(t.TempDir(), "outbox.db"), SenderOptions{})
	h.deliver(2)
	h.step()
	other, _ := wire.Encode(wire.Ack{Schema: 1, AgentID: "site-2", Sequences: []uint64{100}})
	tests := []struct {
		name    string
		payload []byte
	}{
		{"not JSON", []byte("not json")},
		{"empty", nil},
		{"wrong shape", []byte(`{"seqs": "100"}`)},
		{"another agent", other},
	}
	for _, tt := range tests {
		h.s.HandleAck(tt.payload)
	}
	h.ack(999, 1) // unknown: ignored
	st := h.s.Stats()
	if st.AcksGarbage != 3 || st.AcksForeign != 1 || st.Acked != 0 {
		t.Errorf("stats %+v, want 3 garbage, 1 foreign, 0 acked", st)
	}
	expectSeqs(t, "outbox", h.box.Seqs(), []uint64{100, 101})
	h.ack(100, 101, 100) // duplicates within and across acks are harmless
	h.ack(100)
	if st := h.s.Stats(); st.Depth != 0 || st.Acked != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestSenderWaitsWhileDisconnected(t *testing.T) {
	h := newHarness(t, filepath.Join(t.TempDir(), "outbox.db"), SenderOptions{})
	h.deliver(1)
	// The connection drops during the publish.
	h.pub.failWith = ErrNotConnected
	h.pub.onPublish = func(wire.ReadBatch) { h.pub.setConnected(false) }
	h.step()
	h.pub.failWith, h.pub.onPublish = nil, nil
	h.deliver(2)
	h.clock.Advance(time.Hour)
	h.step()
	expectSeqs(t, "sent while down", h.pub.seqs(), []uint64{100})
	h.pub.setConnected(true)
	h.s.Reconnected()
	h.step()
	// The failed one is due at once again, and leaves in order.
	expectSeqs(t, "sent", h.pub.seqs(), []uint64{100, 100, 101, 102})
}

func TestSenderInFlightBound(t *testing.T) {
	h := newHarness(t, filepath.Join(t.TempDir(), "outbox.db"), SenderOptions{MaxInFlight: 4})
	h.deliver(6)
	h.pub.hold = true
	h.s.dispatch(h.ctx, h.pub, &h.wg)
	expectSeqs(t, "in flight", h.pub.seqs(), []uint64{100, 101, 102, 103})
	if st := h.s.Stats(); st.InFlight != 4 {
		t.Errorf("in flight %d", st.InFlight)
	}
	// No slot is free: nothing more leaves.
	h.s.dispatch(h.ctx, h.pub, &h.wg)
	expectSeqs(t, "in flight", h.pub.seqs(), []uint64{100, 101, 102, 103})
	close(h.pub.release)
	h.wg.Wait()
	h.step()
	expectSeqs(t, "all", h.pub.seqs(), []uint64{100, 101, 102, 103, 104, 105})
}

func TestSenderDiskErrorKeepsPolling(t *testing.T) {
	h := newHarness(t, filepath.Join(t.TempDir(), "outbox.db"), SenderOptions{})
	h.deliver(1)
	h.box.Close() // every write fails from now on, as on a full or dead disk
	for range 3 {
		h.deliver(1) // returns: polling goes on
	}
	if n := strings.Count(h.logs.String(), "outbox: write failed (disk full?): reads of this round are kept in memory only"); n != 3 {
		t.Errorf("%d error lines for 3 rounds, want one per round\n%s", n, h.logs)
	}
	h.step()
	// The stored batch cannot be read back (closed); the memory-only ones
	// leave once each, numbered past it.
	expectSeqs(t, "sent", h.pub.seqs(), []uint64{101, 102, 103})
	h.clock.Advance(time.Hour)
	h.step()
	expectSeqs(t, "sent", h.pub.seqs(), []uint64{101, 102, 103})
}

// largeRead is a read at the wire bounds' edge of what is still valid:
// about 40 KB of JSON.
func largeRead(address string, at time.Time) wire.DeviceRead {
	text := strings.Repeat("x", wire.MaxTextLen)
	r := wire.DeviceRead{Address: address, ReadAt: at, Model: text, Vendor: text}
	for i := range wire.MaxListLen {
		r.Counters = append(r.Counters, wire.Counter{Kind: "total", Value: int64(i), Source: text})
		r.Supplies = append(r.Supplies, wire.Supply{Index: i, Kind: "toner", State: "ok", Description: text, PartNumber: text})
	}
	return r
}

func TestSenderSplitsLargeRounds(t *testing.T) {
	h := newHarness(t, filepath.Join(t.TempDir(), "outbox.db"), SenderOptions{})
	// Several MiB of valid reads: they must go out as several batches
	// under the limit, none lost to cleaning.
	var reads []wire.DeviceRead
	for i := range 96 {
		reads = append(reads, largeRead(fmt.Sprintf("192.0.2.%d", i+1), testStart))
	}
	if err := h.s.Deliver(h.ctx, reads); err != nil {
		t.Fatal(err)
	}
	h.step()
	total := 0
	for i, b := range h.pub.sent {
		if len(h.pub.payloads[i]) > wire.MaxPayloadBytes {
			t.Errorf("batch %d is %d bytes", b.Sequence, len(h.pub.payloads[i]))
		}
		total += len(b.Reads)
	}
	if len(h.pub.sent) < 3 || total != len(reads) {
		t.Errorf("%d batches carrying %d reads", len(h.pub.sent), total)
	}
	if st := h.s.Stats(); st.DevicesPolled != 96 || st.ReadsCleaned != 0 || st.ReadsDropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

// One printer's odd answer costs at most its own read, never the round:
// each read is cleaned to the wire bounds alone, and a read still invalid
// is dropped alone. Each is logged with its address and counted.
func TestSenderCleansEachReadAlone(t *testing.T) {
	tooLong := strings.Repeat("m", wire.MaxTextLen+1)
	tests := []struct {
		name    string
		bad     func(r *wire.DeviceRead)
		dropped bool   // the bad read is dropped, not cleaned
		logged  string // in its log line
	}{
		{"model too long", func(r *wire.DeviceRead) { r.Model = tooLong }, false, "model cut"},
		{"NUL in the serial", func(r *wire.DeviceRead) { r.Serial = "AB\x00CD" }, false, "serial dropped"},
		{"negative counter", func(r *wire.DeviceRead) { r.Counters = []wire.Counter{{Kind: "total", Value: -3}} }, false, "negative counter"},
		{"percent over 100", func(r *wire.DeviceRead) {
			p := 250
			r.Supplies = []wire.Supply{{Index: 1, Kind: "toner", State: "ok", Percent: &p}}
		}, false, "outside 0..100"},
		{"too many supplies", func(r *wire.DeviceRead) {
			r.Supplies = make([]wire.Supply, wire.MaxListLen+1)
		}, false, "supplies cut"},
		{"no read time", func(r *wire.DeviceRead) { r.ReadAt = time.Time{} }, true, "read time missing"},
		{"clock before 2000 (no RTC)", func(r *wire.DeviceRead) { r.ReadAt = time.Date(1970, 1, 1, 0, 1, 0, 0, time.UTC) }, true, "before 2000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, filepath.Join(t.TempDir(), "outbox.db"), SenderOptions{})
			at := testStart.Add(-time.Minute)
			round := []wire.DeviceRead{
				{Address: "192.0.2.1", ReadAt: at, Serial: "GOOD1"},
				{Address: "192.0.2.66", ReadAt: at, Serial: "BAD"},
				{Address: "192.0.2.3", ReadAt: at, Serial: "GOOD3"},
			}
			tt.bad(&round[1])
			if err := h.s.Deliver(h.ctx, round); err != nil {
				t.Fatal(err)
			}
			h.step()
			if len(h.pub.sent) != 1 {
				t.Fatalf("%d batches published, want the round's one", len(h.pub.sent))
			}
			var addresses []string
			for _, r := range h.pub.sent[0].Reads {
				addresses = append(addresses, r.Address)
				if err := r.Validate(testStart); err != nil {
					t.Errorf("read of %s published invalid: %v", r.Address, err)
				}
			}
			want := []string{"192.0.2.1", "192.0.2.66", "192.0.2.3"}
			wantTally := outbox.Tally{ReadsCleaned: 1}
			if tt.dropped {
				want = []string{"192.0.2.1", "192.0.2.3"}
				wantTally = outbox.Tally{ReadsDropped: 1}
			}
			if !slices.Equal(addresses, want) {
				t.Errorf("published reads of %v, want %v", addresses, want)
			}
			if st := h.s.Stats(); st.Tally != wantTally {
				t.Errorf("tally %+v, want %+v", st.Tally, wantTally)
			}
			var lines []string
			for line := range strings.SplitSeq(h.logs.String(), "\n") {
				if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
					lines = append(lines, line)
				}
			}
			if len(lines) != 1 || !strings.Contains(lines[0], "192.0.2.66") || !strings.Contains(lines[0], tt.logged) {
				t.Errorf("want one line naming 192.0.2.66 and %q, got:\n%s", tt.logged, strings.Join(lines, "\n"))
			}
			if r := h.s.Report(); r.ReadsCleaned != wantTally.ReadsCleaned {
				t.Errorf("report %+v", r)
			}
		})
	}
}

func TestSenderRoundOfInvalidReadsStoresNothing(t *testing.T) {
	h := newHarness(t, filepath.Join(t.TempDir(), "outbox.db"), SenderOptions{})
	if err := h.s.Deliver(h.ctx, []wire.DeviceRead{{Address: "a"}}); err != nil { // no read time
		t.Fatal(err)
	}
	if st := h.s.Stats(); st.Depth != 0 || st.ReadsDropped != 1 {
		t.Errorf("stats %+v", st)
	}
	h.deliver(1)
	expectSeqs(t, "outbox", h.box.Seqs(), []uint64{100}) // no number used up
}

// TestSenderRun runs the loop for real: batches delivered while it runs
// are published and, acknowledged as they arrive, leave the outbox.
func TestSenderRun(t *testing.T) {
	h := newHarness(t, filepath.Join(t.TempDir(), "outbox.db"), SenderOptions{})
	// The acks come from goroutines of their own, as from the broker; they
	// report their errors through ackErrs, checked here once they are done.
	var acks sync.WaitGroup
	ackErrs := make(chan error, 100)
	h.pub.onPublish = func(b wire.ReadBatch) {
		acks.Go(func() {
			if err := h.tryAck(b.Sequence); err != nil {
				select {
				case ackErrs <- fmt.Errorf("ack %d: %w", b.Sequence, err):
				default: // enough said
				}
			}
		})
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { h.s.Run(ctx, h.pub); close(done) }()
	h.deliver(20)
	waitFor(t, "an empty outbox", func() bool { return len(ackErrs) > 0 || h.box.Stats().Depth == 0 })
	cancel()
	<-done
	acks.Wait()
	close(ackErrs)
	for err := range ackErrs {
		t.Error(err)
	}
	expectSeqs(t, "sent", h.pub.seqs(), seqRange(100, 20))
}

func seqRange(from uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = from + uint64(i)
	}
	return out
}

// waitFor polls cond; the long guard only keeps a broken test from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// When the collector was down behind a live broker, every batch went out
// once and waits minutes of backoff; its first ack after the silence makes
// the others due at once, so the backlog drains at the pace of the acks.
func TestSenderResendsAtOnceWhenAcksResume(t *testing.T) {
	h := newHarness(t, filepath.Join(t.TempDir(), "outbox.db"), SenderOptions{AckTimeout: time.Minute, MaxBackoff: 10 * time.Minute})
	h.deliver(3)
	h.step()
	h.clock.Advance(time.Minute)
	h.step() // second attempt: each now waits 2m
	expectSeqs(t, "published", h.pub.seqs(), []uint64{100, 101, 102, 100, 101, 102})

	h.clock.Advance(90 * time.Second) // the collector is back; 30s of backoff remain
	h.ack(100)
	h.step()
	expectSeqs(t, "published after the first ack", h.pub.seqs()[6:], []uint64{101, 102})
	if !strings.Contains(h.logs.String(), "acknowledges again after a silence") {
		t.Error("the fast re-send is not logged")
	}

	// Acks that keep coming are no silence: a batch sent is not sent
	// again before its ack timeout.
	h.deliver(1)
	h.step()
	h.clock.Advance(10 * time.Second)
	h.ack(101, 102)
	h.step()
	expectSeqs(t, "published while acks flow", h.pub.seqs()[8:], []uint64{103})
}

// ackBatches sends an ack that settles batches by sequence number and
// batch id, as a collector that knows batch ids does.
func (h *harness) ackBatches(batches ...wire.BatchAck) {
	h.t.Helper()
	payload, err := wire.Encode(wire.Ack{Schema: wire.SchemaVersion, AgentID: "site-1", Batches: batches, At: h.clock.Now()})
	if err != nil {
		h.t.Fatal(err)
	}
	h.s.HandleAck(payload)
}

// batchIDs maps the sequence numbers published to their batch ids.
func (p *fakePublisher) batchIDs() map[uint64]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := map[uint64]string{}
	for _, b := range p.sent {
		ids[b.Sequence] = b.BatchID
	}
	return ids
}

func TestSenderBatchIDs(t *testing.T) {
	h := newHarness(t, filepath.Join(t.TempDir(), "outbox.db"), SenderOptions{})
	h.deliver(3)
	h.step()
	ids := h.pub.batchIDs()
	seen := map[string]bool{}
	for seq, id := range ids {
		if id == "" || len(id) > wire.MaxBatchIDLen || seen[id] {
			t.Errorf("batch %d has id %q (ids %v)", seq, id, ids)
		}
		seen[id] = true
		if e, _, _ := h.box.Get(seq); e.BatchID != id {
			t.Errorf("batch %d published with id %q, stored with %q", seq, id, e.BatchID)
		}
	}
	// A re-send is the stored batch, id and all.
	h.clock.Advance(DefaultAckTimeout)
	h.step()
	expectSeqs(t, "published", h.pub.seqs(), []uint64{100, 101, 102, 100, 101, 102})
	for i, b := range h.pub.sent[3:] {
		if b.BatchID != h.pub.sent[i].BatchID {
			t.Errorf("batch %d re-sent with id %q, first sent with %q", b.Sequence, b.BatchID, h.pub.sent[i].BatchID)
		}
	}
}

// An ack that lists batches settles each by number and id: a stale ack (the
// number of a batch of an earlier installation, under another id) deletes
// nothing. What the collector refused is counted once per batch, logged
// with its reasons, reported in the status and kept across restarts.
func TestSenderSettlesBatchesByID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	h := newHarness(t, path, SenderOptions{})
	h.deliver(4)
	h.step()
	ids := h.pub.batchIDs()

	h.ackBatches(wire.BatchAck{Seq: 100, BatchID: "EARLIER-INSTALLATION"}, wire.BatchAck{Seq: 101})
	expectSeqs(t, "left after stale acks", h.box.Seqs(), []uint64{100, 101, 102, 103})

	refused := []wire.RefusedRead{{Index: 0, Reason: "read time 2031-01-01T00:00:00Z is in the future"}, {Index: 3, Reason: "serial holds a NUL character"}}
	for range 2 { // the collector acks a re-sent batch again: counted once
		h.ackBatches(
			wire.BatchAck{Seq: 100, BatchID: ids[100]},
			wire.BatchAck{Seq: 101, BatchID: ids[101], Refused: refused},
			wire.BatchAck{Seq: 102, BatchID: ids[102], Rejected: "agent id \"x/y\" is not valid"},
		)
	}
	expectSeqs(t, "left", h.box.Seqs(), []uint64{103})
	want := outbox.Tally{ReadsRefused: 2, BatchesRefused: 1}
	if st := h.s.Stats(); st.Tally != want || st.Acked != 3 {
		t.Errorf("stats %+v, want tally %+v and 3 acked", st, want)
	}
	for _, reason := range []string{"in the future", "holds a NUL character", `is not valid`} {
		if n := strings.Count(h.logs.String(), reason); n != 1 {
			t.Errorf("reason %q logged %d times, want once\n%s", reason, n, h.logs)
		}
	}
	if r := h.s.Report(); r.ReadsRefused != 2 || r.BatchesRefused != 1 {
		t.Errorf("report %+v", r)
	}

	h.box.Close()
	h2 := newHarness(t, path, SenderOptions{})
	if st := h2.s.Stats(); st.Tally != want {
		t.Errorf("tally after a restart %+v, want %+v", st.Tally, want)
	}
}

// A collector that predates batch ids acks by sequence number alone; one
// that knows them may list the numbers too, for older agents: the batches
// settle it then.
func TestSenderAckBySequenceOrBatches(t *testing.T) {
	h := newHarness(t, filepath.Join(t.TempDir(), "outbox.db"), SenderOptions{})
	h.deliver(3)
	h.step()
	ids := h.pub.batchIDs()
	h.ack(100)
	expectSeqs(t, "left after an ack by number", h.box.Seqs(), []uint64{101, 102})

	payload, err := wire.Encode(wire.Ack{Schema: wire.SchemaVersion, AgentID: "site-1", Sequences: []uint64{101, 102},
		Batches: []wire.BatchAck{{Seq: 101, BatchID: "STALE"}, {Seq: 102, BatchID: ids[102]}}})
	if err != nil {
		t.Fatal(err)
	}
	h.s.HandleAck(payload)
	expectSeqs(t, "left after an ack with both", h.box.Seqs(), []uint64{101})
}
