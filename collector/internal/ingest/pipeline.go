package ingest

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/meterline/meterline/collector/internal/metrics"
	"github.com/meterline/meterline/collector/internal/store"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// Store is the database as ingest needs it. Errors with a domain code other
// than EINTERNAL mean the data itself was refused; any other error is the
// database's, and the write is retried.
type Store interface {
	// SaveBatches stores read batches in one transaction; a batch refused
	// for its own data gets its BatchResult.Err, the others are stored.
	SaveBatches(ctx context.Context, batches []store.IncomingBatch) ([]store.BatchResult, error)
	SaveStatus(ctx context.Context, status wire.AgentStatus) error
	SaveEvent(ctx context.Context, event wire.Event) error
	// SaveDeadLetter keeps a refused message; repeat is true when the
	// same payload on the same topic was kept before.
	SaveDeadLetter(ctx context.Context, m store.RefusedMessage) (repeat bool, err error)
}

// Message is one MQTT message received at QoS 1. Ack tells the broker it
// was handled; until then the broker keeps it for the session.
type Message interface {
	Topic() string
	Payload() []byte
	Ack()
}

// Publisher publishes a message at QoS 1 and waits for the broker to take
// it.
type Publisher interface {
	Publish(topic string, payload []byte) error
}

// PipelineConfig sizes the pipeline. Zero fields take the defaults.
type PipelineConfig struct {
	// Workers is how many transactions are written at once.
	Workers int
	// QueueSize bounds the messages received and not yet taken by a
	// worker. When it is full the MQTT handlers wait, and the broker's
	// in-flight window, then its queue, hold the rest.
	QueueSize int
	// BatchMaxReads bounds the reads a worker writes in one transaction.
	// A worker takes what is queued, up to this; under a burst the queue
	// is long and transactions are large, which is what makes them cheap.
	BatchMaxReads int
	// BatchMaxWait is how long a worker waits for more messages before
	// writing fewer than BatchMaxReads. Zero writes at once what is there.
	BatchMaxWait time.Duration
	// RetryMin and RetryMax bound the wait between attempts at a database
	// write that failed; it doubles from one to the other.
	RetryMin, RetryMax time.Duration
	// Metrics counts what the pipeline does; nil counts nothing.
	Metrics *metrics.Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Defaults of PipelineConfig.
const (
	DefaultWorkers       = 4
	DefaultQueueSize     = 1024
	DefaultBatchMaxReads = 5000
)

func (c PipelineConfig) withDefaults() PipelineConfig {
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.BatchMaxReads <= 0 {
		c.BatchMaxReads = DefaultBatchMaxReads
	}
	if c.BatchMaxWait < 0 {
		c.BatchMaxWait = 0
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 250 * time.Millisecond
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(30*time.Second, c.RetryMin)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// received is a message with the time it arrived.
type received struct {
	msg Message
	at  time.Time
}

// Pipeline stores the messages agents send and acknowledges each once it
// is committed: to the broker (the MQTT PUBACK) and, for a read batch, to
// the agent (a wire.Ack on its acks topic), so the agent can drop it from
// its outbox. A payload that can never be stored is kept in dead_letters
// and acknowledged, so it does not hold up what follows.
//
// Each agent's messages go to one worker (by a hash of its id): a worker
// gathers what is queued into one transaction, and two workers never
// write the same agent's devices at once, so they do not wait on each
// other's row locks.
type Pipeline struct {
	store   Store
	pub     Publisher
	cfg     PipelineConfig
	logger  *slog.Logger
	metrics *metrics.Metrics

	queues []chan received
	// stopping is closed when Stop begins: no more messages are taken.
	stopping chan struct{}
	// work is cancelled when Stop gives up waiting: retries end.
	work     context.Context
	abort    context.CancelFunc
	workers  sync.WaitGroup
	stopOnce sync.Once
}

// NewPipeline starts the workers of a pipeline.
func NewPipeline(store Store, pub Publisher, cfg PipelineConfig, logger *slog.Logger) *Pipeline {
	cfg = cfg.withDefaults()
	work, abort := context.WithCancel(context.Background())
	p := &Pipeline{
		store:    store,
		pub:      pub,
		cfg:      cfg,
		logger:   logger,
		metrics:  cfg.Metrics,
		queues:   make([]chan received, cfg.Workers),
		stopping: make(chan struct{}),
		work:     work,
		abort:    abort,
	}
	perWorker := max(1, cfg.QueueSize/cfg.Workers)
	p.workers.Add(cfg.Workers)
	for i := range p.queues {
		p.queues[i] = make(chan received, perWorker)
		go p.run(p.queues[i])
	}
	return p
}

// Handle queues a message for its agent's worker and returns. It waits
// only while that queue is full. Once Stop has begun it drops the message
// without acknowledging it: the broker keeps it for the session, and the
// agent re-sends what is not acknowledged anyway.
func (p *Pipeline) Handle(msg Message) {
	r := received{msg: msg, at: p.cfg.Now()}
	select {
	case <-p.stopping:
		return
	default:
	}
	select {
	case p.queueFor(msg.Topic()) <- r:
	case <-p.stopping:
	}
}

// queueFor picks the worker of the agent a topic names.
func (p *Pipeline) queueFor(topicName string) chan received {
	agent := topicName
	if id, _, err := topic.Parse(topicName); err == nil {
		agent = id
	}
	h := fnv.New32a()
	h.Write([]byte(agent))
	return p.queues[h.Sum32()%uint32(len(p.queues))] //nolint:gosec // a handful of queues: the count fits
}

// QueueDepth is how many messages wait for a worker.
func (p *Pipeline) QueueDepth() int {
	n := 0
	for _, q := range p.queues {
		n += len(q)
	}
	return n
}

// Stop takes no more messages, stores and acknowledges those queued, and
// returns when the workers are done. If ctx ends first, database retries
// are abandoned and their messages left unacknowledged for the broker to
// deliver again.
func (p *Pipeline) Stop(ctx context.Context) error {
	p.stopOnce.Do(func() { close(p.stopping) })
	done := make(chan struct{})
	go func() {
		p.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
		p.abort()
		return nil
	case <-ctx.Done():
		p.abort()
		<-done
		return fmt.Errorf("ingest: stop: queue not drained: %w", ctx.Err())
	}
}

// run is one worker: it takes the first message queued, gathers what
// follows into one write, and starts again; once stopping, it drains its
// queue and ends.
func (p *Pipeline) run(queue chan received) {
	defer p.workers.Done()
	for {
		var first received
		select {
		case first = <-queue:
		case <-p.stopping:
			select {
			case first = <-queue:
			default:
				return
			}
		}
		p.processGroup(p.gather(queue, first))
	}
}

// gather takes the messages queued after first, up to BatchMaxReads reads
// (counted roughly, by message: a batch's reads are known only once
// decoded), waiting up to BatchMaxWait for more.
func (p *Pipeline) gather(queue chan received, first received) []decodedMessage {
	group := []decodedMessage{p.decode(first)}
	reads := len(group[0].batch.Reads)
	var deadline <-chan time.Time
	if p.cfg.BatchMaxWait > 0 {
		timer := time.NewTimer(p.cfg.BatchMaxWait)
		defer timer.Stop()
		deadline = timer.C
	}
	for reads < p.cfg.BatchMaxReads {
		var r received
		select {
		case r = <-queue:
		default:
			if deadline == nil {
				return group
			}
			select {
			case r = <-queue:
			case <-deadline:
				return group
			case <-p.stopping:
				return group
			}
		}
		m := p.decode(r)
		group = append(group, m)
		reads += len(m.batch.Reads)
	}
	return group
}

// decodedMessage is a received message with what decoding made of it.
type decodedMessage struct {
	received
	decoded
	err error // the payload can never be stored
}

func (p *Pipeline) decode(r received) decodedMessage {
	d, err := decode(r.msg.Topic(), r.msg.Payload(), r.at)
	kind := string(d.kind)
	if kind == "" {
		kind = "unknown"
	}
	p.metrics.MessageReceived(kind)
	return decodedMessage{received: r, decoded: d, err: err}
}

// processGroup stores what a worker gathered: read batches in one
// transaction, statuses and events one by one, refused payloads in
// dead_letters; then settles the batches with their agents and
// acknowledges each message written.
func (p *Pipeline) processGroup(group []decodedMessage) {
	var batches []decodedMessage
	var settled settlement
	for _, m := range group {
		switch {
		case m.err != nil:
			p.refuse(m.msg, m.err, &settled)
		case m.kind == topic.Reads:
			batches = append(batches, m)
		default:
			p.processOne(m)
		}
	}
	if len(batches) > 0 {
		p.storeBatches(batches, &settled)
	}
	p.finish(&settled)
}

// settlement gathers what a group settled: the batches to tell each agent
// about, in one ack per agent, and the messages to acknowledge to the
// broker once that is done.
type settlement struct {
	acks map[string][]wire.BatchAck // by agent id
	msgs []Message
}

// settle records a batch settled with its agent. A batch and its re-send
// in one group are settled once.
func (s *settlement) settle(agentID string, ack wire.BatchAck) {
	if s.acks == nil {
		s.acks = map[string][]wire.BatchAck{}
	}
	for _, a := range s.acks[agentID] {
		if a.Seq == ack.Seq && a.BatchID == ack.BatchID {
			return
		}
	}
	s.acks[agentID] = append(s.acks[agentID], ack)
}

// finish tells each agent what was settled, then acknowledges the
// messages to the broker.
func (p *Pipeline) finish(s *settlement) {
	p.ackBatches(s.acks)
	for _, msg := range s.msgs {
		msg.Ack()
	}
}

// processOne stores a status or an event.
func (p *Pipeline) processOne(m decodedMessage) {
	log := p.logger.With("agent_id", m.agentID, "kind", string(m.kind))
	var err error
	switch m.kind {
	case topic.Status:
		err = p.retry(log, func(ctx context.Context) error { return p.store.SaveStatus(ctx, m.status) })
		if err == nil {
			log.Debug("status stored", "state", string(m.status.State))
		}
	case topic.Events:
		err = p.retry(log, func(ctx context.Context) error { return p.store.SaveEvent(ctx, m.event) })
		if err == nil {
			log.Debug("event stored", "event_id", m.event.ID, "event_kind", string(m.event.Kind))
		}
	}
	var settled settlement
	p.settleMessage(m.msg, err, log, &settled)
	p.finish(&settled)
}

// settleMessage acknowledges a message once written, dead-letters it when
// its data was refused, and otherwise (the pipeline aborted during a
// database outage) leaves it for the broker to deliver again.
func (p *Pipeline) settleMessage(msg Message, err error, log *slog.Logger, settled *settlement) {
	switch {
	case err == nil:
		settled.msgs = append(settled.msgs, msg)
	case refusedData(err):
		p.refuse(msg, err, settled)
	default:
		log.Warn("message left unacknowledged for redelivery", "topic", msg.Topic(), "error", err)
	}
}

// storeBatches writes read batches in one transaction, with the reads
// they refused alone, and settles them. When the database refuses the
// transaction for the data of some batch, each is written alone, so that
// only the guilty one is refused.
func (p *Pipeline) storeBatches(batches []decodedMessage, settled *settlement) {
	in := make([]store.IncomingBatch, len(batches))
	reads := 0
	for i, m := range batches {
		in[i] = store.IncomingBatch{Batch: m.batch, Key: m.batchKey, Refused: m.refused, ReceivedAt: m.at}
		reads += len(m.batch.Reads)
	}
	var results []store.BatchResult
	start := time.Now()
	err := p.retry(p.logger, func(ctx context.Context) error {
		var err error
		results, err = p.store.SaveBatches(ctx, in)
		return err
	})
	if err != nil && refusedData(err) && len(batches) > 1 {
		p.logger.Warn("transaction refused for its data; writing its batches one by one", "batches", len(batches), "error", err)
		for _, m := range batches {
			p.storeBatches([]decodedMessage{m}, settled)
		}
		return
	}
	if err != nil {
		for _, m := range batches {
			p.settleMessage(m.msg, err, p.logger.With("agent_id", m.agentID, "kind", string(topic.Reads)), settled)
		}
		return
	}
	stored, duplicates, fresh, refusedReads := 0, 0, 0, 0
	for i, r := range results {
		m := batches[i] //nolint:gosec // SaveBatches returns one result per batch it is given
		switch {
		case r.Err != nil:
			p.refuse(m.msg, r.Err, settled)
			continue
		case r.Duplicate:
			// Acknowledged again, with what was refused the first time:
			// the agent re-sent it because it missed the first ack.
			duplicates++
		default:
			fresh += len(m.batch.Reads)
			stored += r.Stored
			refusedReads += len(r.Refused)
			if len(r.Refused) > 0 {
				p.logger.Warn("reads refused and dead-lettered; the rest of the batch is stored",
					"agent_id", m.agentID, "seq", m.batch.Sequence, "batch_key", m.batchKey, "refused", len(r.Refused), "first_reason", r.Refused[0].Reason)
			}
		}
		if r.SequenceReused {
			p.metrics.SequenceReused()
			p.logger.Warn("batch sequence reused: stored as a new batch and raised as an event",
				"agent_id", m.agentID, "seq", m.batch.Sequence, "batch_key", m.batchKey)
		}
		settled.settle(m.agentID, wire.BatchAck{Seq: m.batch.Sequence, BatchID: m.batch.BatchID, Refused: r.Refused})
		settled.msgs = append(settled.msgs, m.msg)
	}
	p.metrics.Committed(len(batches), reads, stored, time.Since(start))
	p.metrics.DuplicateBatches(duplicates)
	p.metrics.DuplicateReads(fresh - stored)
	p.metrics.ReadsRefused(refusedReads)
	p.logger.Debug("batches stored", "batches", len(batches), "reads", reads, "stored", stored, "duplicate_batches", duplicates, "reads_refused", refusedReads)
}

// refusedData reports whether err says the data can never be stored, as
// opposed to the database failing.
func refusedData(err error) bool {
	return domain.ErrorCode(err) != domain.EINTERNAL
}

// refuse keeps a message that cannot be stored in dead_letters with the
// reason, once however often it is re-sent, then acknowledges it. A read
// batch whose agent and sequence can be read is settled with its agent as
// rejected, so that the agent stops sending it.
func (p *Pipeline) refuse(msg Message, cause error, settled *settlement) {
	code := domain.ErrorCode(cause)
	reason := code + ": " + domain.ErrorMessage(cause)
	log := p.logger.With("topic", msg.Topic())
	letter := store.RefusedMessage{Topic: msg.Topic(), Reason: reason, Payload: msg.Payload()}
	if agentID, _, err := topic.Parse(msg.Topic()); err == nil {
		letter.AgentID = agentID
	}
	head, batchKey, settleable := refusedBatchHead(msg.Topic(), msg.Payload())
	if settleable {
		letter.Seq, letter.BatchKey = head.Sequence, batchKey
	}
	var repeat bool
	err := p.retry(log, func(ctx context.Context) error {
		var err error
		repeat, err = p.store.SaveDeadLetter(ctx, letter)
		return err
	})
	if err != nil {
		log.Warn("refused message left unacknowledged for redelivery", "reason", reason, "error", err)
		return
	}
	if repeat {
		p.metrics.DeadLetterRepeat()
		log.Info("message refused again; its dead letter counts the repeat", "reason", reason, "bytes", len(msg.Payload()))
	} else {
		p.metrics.DeadLetter(code)
		log.Warn("message refused and dead-lettered", "reason", reason, "bytes", len(msg.Payload()))
	}
	if settleable {
		settled.settle(head.AgentID, wire.BatchAck{Seq: head.Sequence, BatchID: head.BatchID, Rejected: wire.AckReason(reason)})
	}
	settled.msgs = append(settled.msgs, msg)
}

// ackBatches tells each agent which of its batches are settled, in one
// message per agent, published concurrently. If a publish fails, the agent
// re-sends those batches after its timeout and is acknowledged then.
func (p *Pipeline) ackBatches(settled map[string][]wire.BatchAck) {
	now := p.cfg.Now().UTC()
	var wg sync.WaitGroup
	for agentID, batches := range settled {
		// Sequences settles the batches with agents that predate Batches.
		seqs := make([]uint64, 0, len(batches))
		for _, b := range batches {
			if !slices.Contains(seqs, b.Seq) {
				seqs = append(seqs, b.Seq)
			}
		}
		wg.Go(func() {
			ack := wire.Ack{Schema: wire.SchemaVersion, AgentID: agentID, Sequences: seqs, Batches: batches, At: now}
			payload, err := wire.Encode(ack)
			if err == nil {
				err = p.pub.Publish(topic.For(agentID, topic.Acks), payload)
			}
			if err != nil {
				p.logger.Warn("batch acknowledgement not published; the agent will re-send", "agent_id", agentID, "seqs", seqs, "error", err)
			}
		})
	}
	wg.Wait()
}

// retry runs a database write until it succeeds, the data is refused, or
// the pipeline is aborted, waiting longer after each failure.
func (p *Pipeline) retry(log *slog.Logger, write func(ctx context.Context) error) error {
	wait := p.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := write(p.work)
		if err == nil || refusedData(err) || p.work.Err() != nil {
			return err
		}
		p.metrics.WriteRetry()
		log.Warn("database write failed; retrying", "attempt", attempt, "retry_in", wait.String(), "error", err)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-p.work.Done():
			timer.Stop()
			return fmt.Errorf("retry abandoned: %w", err)
		}
		wait = min(2*wait, p.cfg.RetryMax)
	}
}
