package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// Store is the database as ingest needs it. Errors with a domain code other
// than EINTERNAL mean the data itself was refused; any other error is the
// database's, and the write is retried.
type Store interface {
	SaveBatch(ctx context.Context, agentID string, batch wire.ReadBatch, receivedAt time.Time) (stored int, duplicate bool, err error)
	SaveStatus(ctx context.Context, status wire.AgentStatus) error
	SaveEvent(ctx context.Context, event wire.Event) error
	SaveDeadLetter(ctx context.Context, topic, reason string, payload []byte) error
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
	// Workers is how many messages are stored at once.
	Workers int
	// QueueSize bounds the messages received and not yet taken by a
	// worker. When it is full the MQTT handlers wait, and the broker's
	// in-flight window, then its queue, hold the rest.
	QueueSize int
	// RetryMin and RetryMax bound the wait between attempts at a database
	// write that failed; it doubles from one to the other.
	RetryMin, RetryMax time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c PipelineConfig) withDefaults() PipelineConfig {
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 256
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
type Pipeline struct {
	store  Store
	pub    Publisher
	cfg    PipelineConfig
	logger *slog.Logger

	queue chan received
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
		queue:    make(chan received, cfg.QueueSize),
		stopping: make(chan struct{}),
		work:     work,
		abort:    abort,
	}
	p.workers.Add(cfg.Workers)
	for range cfg.Workers {
		go p.run()
	}
	return p
}

// Handle queues a message for the workers and returns. It waits only while
// the queue is full. Once Stop has begun it drops the message without
// acknowledging it: the broker keeps it for the session, and the agent
// re-sends what is not acknowledged anyway.
func (p *Pipeline) Handle(msg Message) {
	r := received{msg: msg, at: p.cfg.Now()}
	select {
	case <-p.stopping:
		return
	default:
	}
	select {
	case p.queue <- r:
	case <-p.stopping:
	}
}

// QueueDepth is how many messages wait for a worker.
func (p *Pipeline) QueueDepth() int { return len(p.queue) }

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

func (p *Pipeline) run() {
	defer p.workers.Done()
	for {
		select {
		case r := <-p.queue:
			p.process(r)
		case <-p.stopping:
			for {
				select {
				case r := <-p.queue:
					p.process(r)
				default:
					return
				}
			}
		}
	}
}

// process stores one message and acknowledges it, or leaves it
// unacknowledged when the pipeline is aborted during a database outage.
func (p *Pipeline) process(r received) {
	topicName, payload := r.msg.Topic(), r.msg.Payload()
	d, err := decode(topicName, payload, r.at)
	if err != nil {
		p.refuse(r.msg, err)
		return
	}
	log := p.logger.With("agent_id", d.agentID, "kind", string(d.kind))
	switch d.kind {
	case topic.Reads:
		var stored int
		var duplicate bool
		err = p.retry(log, func(ctx context.Context) error {
			var err error
			stored, duplicate, err = p.store.SaveBatch(ctx, d.agentID, d.batch, r.at)
			return err
		})
		if err == nil {
			log.Debug("batch stored", "seq", d.batch.Sequence, "reads", len(d.batch.Reads), "stored", stored, "duplicate", duplicate)
			// A duplicate is acknowledged too: the agent re-sent it because
			// it missed the first acknowledgement.
			p.ackBatch(log, d.agentID, d.batch.Sequence)
		}
	case topic.Status:
		err = p.retry(log, func(ctx context.Context) error { return p.store.SaveStatus(ctx, d.status) })
		if err == nil {
			log.Debug("status stored", "state", string(d.status.State))
		}
	case topic.Events:
		err = p.retry(log, func(ctx context.Context) error { return p.store.SaveEvent(ctx, d.event) })
		if err == nil {
			log.Debug("event stored", "event_id", d.event.ID, "event_kind", string(d.event.Kind))
		}
	}
	switch {
	case err == nil:
		r.msg.Ack()
	case refusedData(err):
		p.refuse(r.msg, err)
	default:
		log.Warn("message left unacknowledged for redelivery", "topic", topicName, "error", err)
	}
}

// refusedData reports whether err says the data can never be stored, as
// opposed to the database failing.
func refusedData(err error) bool {
	return domain.ErrorCode(err) != domain.EINTERNAL
}

// refuse keeps a message that cannot be stored in dead_letters with the
// reason, then acknowledges it.
func (p *Pipeline) refuse(msg Message, cause error) {
	reason := domain.ErrorCode(cause) + ": " + domain.ErrorMessage(cause)
	log := p.logger.With("topic", msg.Topic())
	err := p.retry(log, func(ctx context.Context) error {
		return p.store.SaveDeadLetter(ctx, msg.Topic(), reason, msg.Payload())
	})
	if err != nil {
		log.Warn("refused message left unacknowledged for redelivery", "reason", reason, "error", err)
		return
	}
	log.Warn("message refused and dead-lettered", "reason", reason, "bytes", len(msg.Payload()))
	msg.Ack()
}

// ackBatch tells the agent its batch is committed. If the publish fails,
// the agent re-sends the batch after its timeout and is acknowledged then.
func (p *Pipeline) ackBatch(log *slog.Logger, agentID string, seq uint64) {
	ack := wire.Ack{Schema: wire.SchemaVersion, AgentID: agentID, Sequences: []uint64{seq}, At: p.cfg.Now().UTC()}
	payload, err := wire.Encode(ack)
	if err == nil {
		err = p.pub.Publish(topic.For(agentID, topic.Acks), payload)
	}
	if err != nil {
		log.Warn("batch acknowledgement not published; the agent will re-send", "seq", seq, "error", err)
	}
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
