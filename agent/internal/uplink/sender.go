package uplink

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meterline/meterline/agent/internal/outbox"
	"github.com/meterline/meterline/shared/wire"
)

// BatchPublisher is what the Sender needs from the broker connection. MQTT
// is the implementation.
type BatchPublisher interface {
	// PublishReads hands one encoded read batch to the connection at QoS 1
	// and returns at once, so that batches leave in the order they are
	// handed over; the returned function waits for the broker's PUBACK,
	// never longer than the publish timeout.
	PublishReads(payload []byte) (await func(context.Context) error)
	// IsConnected reports whether the connection is up now.
	IsConnected() bool
}

// Sender defaults.
const (
	DefaultAckTimeout  = 60 * time.Second
	DefaultMaxBackoff  = 10 * time.Minute
	DefaultMaxInFlight = 16
	// memoryQueueLimit bounds the batches kept in memory only, when the
	// outbox cannot write: each is published once, then forgotten.
	memoryQueueLimit = 64
	// recheckInterval is the longest Run sleeps without looking.
	recheckInterval = 5 * time.Second
)

// SenderOptions tune the Sender. Zero fields take the defaults.
type SenderOptions struct {
	AgentID string
	// AckTimeout is how long a published batch waits for the collector's
	// acknowledgement before it is sent again; each further wait doubles,
	// up to MaxBackoff.
	AckTimeout time.Duration
	MaxBackoff time.Duration
	// MaxInFlight bounds the batches published and still waiting for the
	// broker's PUBACK.
	MaxInFlight int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Jitter spreads a re-send delay so that agents and batches do not
	// move in lockstep; nil means a random delay in [d, 1.25d).
	Jitter func(d time.Duration) time.Duration
}

func (o SenderOptions) withDefaults() SenderOptions {
	if o.AckTimeout <= 0 {
		o.AckTimeout = DefaultAckTimeout
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.AckTimeout)
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Jitter == nil {
		o.Jitter = func(d time.Duration) time.Duration {
			return d + rand.N(d/4+1) //nolint:gosec // G404: spreads retries in time, nothing to guess or keep secret
		}
	}
	return o
}

// Sender is the poll.Sink that stores each round's reads in the outbox as
// numbered read batches, and the loop (Run) that publishes them until the
// collector acknowledges them: oldest first, a bounded number in flight,
// again after AckTimeout with backoff, across reconnects and restarts.
// Polling never waits on the broker: Deliver only writes to disk.
type Sender struct {
	box  *outbox.Outbox
	opts SenderOptions
	log  *slog.Logger

	wake chan struct{} // a nudge for Run: new batch, ack, reconnect, slot free

	mu          sync.Mutex
	deliveries  map[uint64]*delivery // seq → send state, for every batch the outbox holds
	failedCount int                  // deliveries whose publish failed with the connection (requeueFailed)
	due         dueQueue
	memory      []memoryBatch
	inFlight    int
	lastAck     time.Time // when the last ack came; zero before the first

	devicesPolled atomic.Int64
	acked         atomic.Uint64
	acksGarbage   atomic.Uint64
	acksForeign   atomic.Uint64
	memoryLost    atomic.Uint64
}

// delivery is the send state of one stored batch. It lives in memory only:
// after a restart every stored batch is due at once.
type delivery struct {
	attempts int       // publishes tried
	sent     time.Time // when the last publish reached the broker
	due      time.Time // zero: as soon as possible
	inFlight bool
	failed   bool // the last publish did not reach the broker
}

// memoryBatch is a batch the outbox could not store.
type memoryBatch struct {
	seq     uint64
	payload []byte
}

// NewSender returns a Sender over box; everything box holds is due at once.
func NewSender(box *outbox.Outbox, opts SenderOptions, log *slog.Logger) *Sender {
	s := &Sender{
		box:        box,
		opts:       opts.withDefaults(),
		log:        log,
		wake:       make(chan struct{}, 1),
		deliveries: map[uint64]*delivery{},
	}
	for _, seq := range box.Seqs() {
		s.track(seq)
	}
	if n := len(s.deliveries); n > 0 {
		log.Info("outbox holds unacknowledged read batches; sending them again", "batches", n, "bytes", box.Stats().Bytes)
	}
	return s
}

// track adds a stored batch, due at once. The caller holds s.mu (or owns s).
func (s *Sender) track(seq uint64) {
	s.deliveries[seq] = &delivery{}
	heap.Push(&s.due, dueItem{seq: seq})
}

// nudge wakes Run without ever blocking.
func (s *Sender) nudge() {
	select {
	case s.wake <- struct{}{}:
	default: // a nudge is pending already
	}
}

// Deliver implements poll.Sink: it cleans the round's reads, writes them
// to the outbox as one or more read batches (each under
// wire.MaxPayloadBytes) and returns; Run publishes them. When the outbox
// cannot write, the batch is kept in memory and published once, and one
// error line says so.
func (s *Sender) Deliver(_ context.Context, reads []wire.DeviceRead) error {
	s.devicesPolled.Store(int64(len(reads)))
	reads = s.clean(reads)
	if len(reads) == 0 {
		return nil
	}
	var memoryOnly int
	err := s.store(reads, &memoryOnly)
	if memoryOnly > 0 {
		s.log.Error("outbox: write failed (disk full?): reads of this round are kept in memory only",
			"reads", memoryOnly, "error", err.Error())
		return nil
	}
	return err
}

// clean brings each read within the bounds the collector validates
// (wire.DeviceRead.Clean), so that one printer's odd answer costs at most
// its own read, never the round: the collector would refuse a batch it
// cannot identify, and a read beyond the bounds alone. A read still
// invalid once cleaned (no address, a read time the clock got wrong) is
// dropped. Each change is logged and counted.
func (s *Sender) clean(reads []wire.DeviceRead) []wire.DeviceRead {
	now := s.opts.Now()
	out := make([]wire.DeviceRead, 0, len(reads))
	var tally outbox.Tally
	for _, r := range reads {
		cleaned, changes := r.Clean()
		if len(changes) > 0 {
			tally.ReadsCleaned++
			s.log.Warn("read cleaned before storing: fields out of the wire bounds", "address", r.Address, "changes", changes)
		}
		if err := cleaned.Validate(now); err != nil {
			tally.ReadsDropped++
			s.log.Error("read dropped: not valid even once cleaned", "address", r.Address, "error", err.Error())
			continue
		}
		out = append(out, cleaned)
	}
	if tally != (outbox.Tally{}) {
		if err := s.box.Count(tally); err != nil {
			s.log.Warn("outbox: count cleaned and dropped reads", "error", err.Error())
		}
	}
	return out
}

// store appends reads as batches, splitting what is too large for one
// payload; it counts in memoryOnly the reads the outbox could not take.
// Each read fits a payload alone (wire.MaxReadBytes, once cleaned).
func (s *Sender) store(reads []wire.DeviceRead, memoryOnly *int) error {
	b := wire.ReadBatch{
		Schema:  wire.SchemaVersion,
		AgentID: s.opts.AgentID,
		SentAt:  s.opts.Now().UTC().Truncate(time.Second),
		Reads:   reads,
	}
	// Measure before using up a sequence number, with the longest number
	// and batch id there can be.
	b.Sequence, b.BatchID = math.MaxUint64, strings.Repeat("x", wire.MaxBatchIDLen)
	payload, err := wire.Encode(b)
	if err != nil {
		return fmt.Errorf("encode read batch: %w", err)
	}
	if len(payload) > wire.MaxPayloadBytes && len(reads) > 1 {
		half := len(reads) / 2
		return errors.Join(s.store(reads[:half], memoryOnly), s.store(reads[half:], memoryOnly))
	}
	seq, err := s.box.Append(func(seq uint64, batchID string) ([]byte, error) {
		b.Sequence, b.BatchID = seq, batchID
		return wire.Encode(b)
	})
	if err != nil {
		b.Sequence, b.BatchID = s.box.Reserve()
		payload, encErr := wire.Encode(b)
		if encErr != nil {
			return fmt.Errorf("encode read batch: %w", encErr)
		}
		s.keepInMemory(memoryBatch{seq: b.Sequence, payload: payload})
		*memoryOnly += len(reads)
		return err
	}
	s.mu.Lock()
	s.track(seq)
	s.mu.Unlock()
	s.nudge()
	s.log.Debug("read batch stored", "seq", seq, "reads", len(reads))
	return nil
}

func (s *Sender) keepInMemory(m memoryBatch) {
	s.mu.Lock()
	if len(s.memory) >= memoryQueueLimit {
		s.memory = s.memory[1:]
		s.memoryLost.Add(1)
	}
	s.memory = append(s.memory, m)
	s.mu.Unlock()
	s.nudge()
}

// HandleAck takes a payload from the acks topic and deletes the batches it
// settles: by sequence number and batch id when the ack lists batches, by
// sequence number alone from a collector that predates them. Garbage and
// acks addressed to another agent are counted and ignored; unknown numbers
// (acknowledged already, or dropped) and stale acks (another batch id
// under the number) too.
func (s *Sender) HandleAck(payload []byte) {
	ack, err := wire.DecodeAck(payload)
	if err != nil {
		s.acksGarbage.Add(1)
		s.log.Warn("ignored an unreadable ack", "bytes", len(payload), "error", err.Error())
		return
	}
	if ack.AgentID != s.opts.AgentID {
		s.acksForeign.Add(1)
		s.log.Warn("ignored an ack for another agent", "ack_agent_id", ack.AgentID)
		return
	}
	seqs, err := s.settle(ack)
	if err != nil {
		s.log.Error("outbox: delete acknowledged batches", "seqs", ack.Sequences, "batches", len(ack.Batches), "error", err.Error())
		return
	}
	s.acked.Add(uint64(len(seqs)))
	s.mu.Lock()
	var ackedSent time.Time // the latest publish among the batches acknowledged
	for _, seq := range seqs {
		if d, ok := s.deliveries[seq]; ok && d.sent.After(ackedSent) {
			ackedSent = d.sent
		}
		delete(s.deliveries, seq) // its queue entry is skipped when it comes up
	}
	now, previous := s.opts.Now(), s.lastAck
	// The first ack, too, may end a silence: the collector was down when
	// the agent started.
	silent := previous.IsZero() || now.Sub(previous) >= s.opts.AckTimeout
	s.lastAck = now
	resent := 0
	if silent && !ackedSent.IsZero() {
		resent = s.resendUnacked(now, ackedSent)
	}
	s.mu.Unlock()
	if resent > 0 {
		s.log.Info("the collector acknowledges again after a silence; sending the unacknowledged batches now",
			"batches", resent)
	}
	s.log.Debug("read batches acknowledged", "seqs", ack.Sequences, "batches", len(ack.Batches), "deleted", seqs)
	s.nudge()
}

// settle deletes from the outbox the batches the ack settles and returns
// their sequence numbers. What the collector refused of them is counted
// (by the outbox, once per batch however often the ack comes) and logged.
func (s *Sender) settle(ack wire.Ack) ([]uint64, error) {
	if len(ack.Batches) == 0 {
		return s.box.Ack(ack.Sequences...)
	}
	settlements := make([]outbox.Settlement, len(ack.Batches))
	for i, b := range ack.Batches {
		settlements[i] = outbox.Settlement{Seq: b.Seq, BatchID: b.BatchID, ReadsRefused: len(b.Refused), Rejected: b.Rejected != ""}
	}
	deleted, err := s.box.Settle(settlements...)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, d := range deleted {
		seqs = append(seqs, d.Seq)
	}
	for _, b := range ack.Batches {
		if !slices.Contains(seqs, b.Seq) {
			continue // not held (any more): counted and logged when it was
		}
		switch {
		case b.Rejected != "":
			s.log.Warn("the collector refused a read batch whole: its reads are not stored", "seq", b.Seq, "batch_id", b.BatchID, "reason", b.Rejected)
		case len(b.Refused) > 0:
			reasons := make([]string, len(b.Refused))
			for i, r := range b.Refused {
				reasons[i] = fmt.Sprintf("read %d: %s", r.Index, r.Reason)
			}
			s.log.Warn("the collector refused reads of a batch; the others are stored", "seq", b.Seq, "batch_id", b.BatchID,
				"refused", len(b.Refused), "reasons", reasons)
		}
	}
	return seqs, nil
}

// resendUnacked makes due at once every batch that reached the broker
// no later than the one just acknowledged (published at ackedSent) and waits,
// maybe for minutes of backoff, to be sent again. An ack after a silence
// says the collector is back (it was down, or the broker dropped what it
// had queued): what was published before the acknowledged batch and is
// still unacknowledged was lost, and the backlog then drains at the pace
// of the acks, not of the backoff. It returns how many batches it made
// due. The caller holds s.mu.
func (s *Sender) resendUnacked(now, ackedSent time.Time) int {
	// Only a batch overdue for its ack shows that there was a silence: at
	// start, acks of a burst come back out of order, and nothing is lost.
	overdue := false
	for _, d := range s.deliveries {
		if !d.inFlight && !d.sent.IsZero() && now.Sub(d.sent) >= s.opts.AckTimeout {
			overdue = true
			break
		}
	}
	if !overdue {
		return 0
	}
	n := 0
	for seq, d := range s.deliveries {
		if d.inFlight || d.failed || d.sent.IsZero() || d.sent.After(ackedSent) || !d.due.After(now) {
			continue
		}
		d.due = time.Time{}
		heap.Push(&s.due, dueItem{seq: seq})
		n++
	}
	return n
}

// Reconnected makes every batch whose last publish failed due at once: the
// connection that failed it is gone. Call it on every (re)connection.
func (s *Sender) Reconnected() {
	s.mu.Lock()
	s.requeueFailed()
	s.mu.Unlock()
	s.nudge()
}

// requeueFailed makes due at once the batches whose last publish failed
// with a connection now gone. The caller holds s.mu.
func (s *Sender) requeueFailed() {
	if s.failedCount == 0 {
		return
	}
	for seq, d := range s.deliveries {
		if d.failed && !d.inFlight {
			d.failed, d.due = false, time.Time{}
			heap.Push(&s.due, dueItem{seq: seq})
		}
	}
	s.failedCount = 0
}

// SenderStats are the sender's figures, for the status and for logs.
type SenderStats struct {
	outbox.Stats
	DevicesPolled int    // devices read in the last round
	Acked         uint64 // batches acknowledged since start
	AcksGarbage   uint64 // ack payloads that could not be read
	AcksForeign   uint64 // acks for another agent id
	MemoryLost    uint64 // memory-only batches dropped before being sent
	InFlight      int    // batches waiting for the broker's PUBACK
}

// Stats returns the current figures.
func (s *Sender) Stats() SenderStats {
	s.mu.Lock()
	inFlight := s.inFlight
	s.mu.Unlock()
	return SenderStats{
		Stats:         s.box.Stats(),
		DevicesPolled: int(s.devicesPolled.Load()),
		Acked:         s.acked.Load(),
		AcksGarbage:   s.acksGarbage.Load(),
		AcksForeign:   s.acksForeign.Load(),
		MemoryLost:    s.memoryLost.Load(),
		InFlight:      inFlight,
	}
}

// Report is the part of the agent status the sender knows, for
// MQTTOptions.Report.
func (s *Sender) Report() StatusReport {
	st := s.box.Stats()
	return StatusReport{DevicesPolled: int(s.devicesPolled.Load()), OutboxDepth: st.Depth, OutboxDropped: st.Dropped,
		ReadsCleaned: st.ReadsCleaned, ReadsRefused: st.ReadsRefused, BatchesRefused: st.BatchesRefused}
}

// Run publishes what is due until ctx ends. While pub is disconnected it
// waits; Reconnected and new batches wake it.
func (s *Sender) Run(ctx context.Context, pub BatchPublisher) {
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	for {
		next := s.dispatch(ctx, pub, &inFlight)
		// Without a batch falling due, look again now and then all the
		// same: a missed nudge must not stall the uplink.
		wait := recheckInterval
		if !next.IsZero() {
			wait = min(max(next.Sub(s.opts.Now()), 0), recheckInterval)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-s.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// dispatch publishes what is due, as long as the connection is up and
// in-flight slots are free, and returns when the next stored batch falls
// due (zero when it waits for an event rather than a time). Each batch is
// handed to pub here, one after the other in sequence order, never under
// s.mu (a slow broker must not hold up Deliver); its PUBACK is awaited in
// a goroutine tracked by wg.
func (s *Sender) dispatch(ctx context.Context, pub BatchPublisher, wg *sync.WaitGroup) time.Time {
	for {
		if ctx.Err() != nil || !pub.IsConnected() {
			return time.Time{}
		}
		s.mu.Lock()
		if s.inFlight >= s.opts.MaxInFlight {
			s.mu.Unlock()
			return time.Time{}
		}
		// Connected: what failed with the last connection goes first, in
		// sequence order with the rest, even before Reconnected is told
		// (the connect callback may come after this loop wakes).
		s.requeueFailed()
		// Memory-only batches first: nothing else holds them.
		if len(s.memory) > 0 {
			m := s.memory[0]
			s.memory = s.memory[1:]
			s.inFlight++
			s.mu.Unlock()
			await := pub.PublishReads(m.payload)
			wg.Go(func() { s.awaitMemory(ctx, m.seq, await) })
			continue
		}
		seq, attempts, next := s.popDue(s.opts.Now())
		if seq == 0 {
			s.mu.Unlock()
			return next
		}
		s.mu.Unlock()

		e, found, err := s.box.Get(seq)
		if err != nil || !found {
			s.mu.Lock()
			s.inFlight--
			if d, live := s.deliveries[seq]; live && err != nil {
				s.log.Error("outbox: read a batch to send", "seq", seq, "error", err.Error())
				d.inFlight, d.due = false, s.opts.Now().Add(s.backoff(attempts))
				heap.Push(&s.due, dueItem{seq: seq, due: d.due})
			} else {
				delete(s.deliveries, seq) // dropped by the outbox bounds
			}
			s.mu.Unlock()
			continue
		}
		if attempts > 1 {
			s.log.Info("read batch not acknowledged; sending it again", "seq", seq, "attempt", attempts,
				"waiting_seconds", int(s.opts.Now().Sub(e.Enqueued).Seconds()))
		}
		await := pub.PublishReads(e.Payload)
		wg.Go(func() { s.awaitStored(ctx, pub, seq, len(e.Payload), await) })
	}
}

// popDue takes the first batch due at now off the queue and marks it in
// flight, returning its number and attempt; or 0 and the time the next
// one falls due (zero if none waits). The caller holds s.mu.
func (s *Sender) popDue(now time.Time) (seq uint64, attempts int, next time.Time) {
	for s.due.Len() > 0 {
		top := s.due[0]
		d, live := s.deliveries[top.seq]
		if !live || d.inFlight || d.failed || !d.due.Equal(top.due) {
			heap.Pop(&s.due) // acknowledged, dropped or rescheduled since
			continue
		}
		if top.due.After(now) {
			return 0, 0, top.due
		}
		heap.Pop(&s.due)
		d.inFlight = true
		d.attempts++
		s.inFlight++
		return top.seq, d.attempts, time.Time{}
	}
	return 0, 0, time.Time{}
}

// awaitStored waits for a stored batch's PUBACK and schedules what follows:
// the re-send if no ack comes within the ack timeout (doubling per
// attempt), or a retry once the connection is back.
func (s *Sender) awaitStored(ctx context.Context, pub BatchPublisher, seq uint64, size int, await func(context.Context) error) {
	err := await(ctx)
	s.mu.Lock()
	s.inFlight--
	d, live := s.deliveries[seq]
	if live {
		d.inFlight = false
		switch {
		case err == nil:
			d.sent = s.opts.Now()
			d.due = d.sent.Add(s.backoff(d.attempts))
		case errors.Is(err, ErrNotConnected) || !pub.IsConnected() || ctx.Err() != nil:
			// Gone with the connection: due again on the next one.
			d.failed, d.due = true, time.Time{}
			s.failedCount++
		default:
			// The broker is there but slow: back off as for a lost ack.
			d.due = s.opts.Now().Add(s.backoff(d.attempts))
		}
		if !d.failed {
			heap.Push(&s.due, dueItem{seq: seq, due: d.due})
		}
	}
	s.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		s.log.Warn("publish read batch", "seq", seq, "error", err.Error())
	} else if err == nil {
		s.log.Info("read batch published", "seq", seq, "bytes", size)
	}
	s.nudge()
}

// awaitMemory waits for a memory-only batch's PUBACK; it is not sent again.
func (s *Sender) awaitMemory(ctx context.Context, seq uint64, await func(context.Context) error) {
	err := await(ctx)
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
	if err != nil {
		s.memoryLost.Add(1)
		s.log.Error("publish a read batch kept in memory only: its reads are lost", "seq", seq, "error", err.Error())
	} else {
		s.log.Warn("read batch published from memory only: it is not sent again", "seq", seq)
	}
	s.nudge()
}

// backoff is the wait for an ack after the given attempt: AckTimeout,
// doubling per attempt, capped, with jitter.
func (s *Sender) backoff(attempts int) time.Duration {
	d := s.opts.AckTimeout
	for i := 1; i < attempts && d < s.opts.MaxBackoff; i++ {
		d *= 2
	}
	return s.opts.Jitter(min(d, s.opts.MaxBackoff))
}

// dueItem is a batch in the send queue: earliest due first, then lowest
// sequence number, so that what is due together leaves in order.
type dueItem struct {
	seq uint64
	due time.Time
}

type dueQueue []dueItem

func (q dueQueue) Len() int { return len(q) }
func (q dueQueue) Less(i, j int) bool {
	if !q[i].due.Equal(q[j].due) {
		return q[i].due.Before(q[j].due)
	}
	return q[i].seq < q[j].seq
}
func (q dueQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)   { *q = append(*q, x.(dueItem)) }
func (q *dueQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}
