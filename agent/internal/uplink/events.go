package uplink

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/meterline/meterline/shared/wire"
)

// MaxPendingEvents bounds the events waiting for the broker. Events are
// notices, not billing data: past the bound the oldest are dropped, with a
// log line, rather than growing without end during a long outage.
const MaxPendingEvents = 1000

// eventRetry is how often events are tried again while the broker does not
// take them and no reconnection says it is back.
const eventRetry = 30 * time.Second

// EventPublisher publishes an event and waits for the broker to take it.
// *MQTT is one.
type EventPublisher interface {
	PublishEvent(ctx context.Context, e wire.Event) error
}

// EventQueue hands events to the broker from a goroutine of its own, so
// that a slow or absent broker never holds up a poll round. Events that
// the broker does not take wait, up to MaxPendingEvents, and are tried
// again on reconnection (Poke) and every 30 seconds. It is safe for
// concurrent use.
type EventQueue struct {
	pub  EventPublisher
	log  *slog.Logger
	wake chan struct{}
	// onChange, when set, is called after published events leave the
	// queue. Set before Run.
	onChange func()

	mu      sync.Mutex
	pending []wire.Event
	dropped int
}

// NewEventQueue returns an empty queue publishing through pub.
func NewEventQueue(pub EventPublisher, log *slog.Logger) *EventQueue {
	return &EventQueue{pub: pub, log: log, wake: make(chan struct{}, 1)}
}

// OnChange makes the queue call f after published events leave it, once
// per burst (as the alert sink saves what is still pending). Call it
// before Run.
func (q *EventQueue) OnChange(f func()) { q.onChange = f }

// Add queues an event, dropping the oldest past MaxPendingEvents.
func (q *EventQueue) Add(e wire.Event) {
	q.mu.Lock()
	if len(q.pending) >= MaxPendingEvents {
		q.pending = q.pending[1:]
		q.dropped++
		q.log.Warn("too many events wait for the broker; dropped the oldest", "dropped_total", q.dropped)
	}
	q.pending = append(q.pending, e)
	q.mu.Unlock()
	q.Poke()
}

// Restore queues events of an earlier run, before those added since.
func (q *EventQueue) Restore(events []wire.Event) {
	q.mu.Lock()
	q.pending = append(slices.Clone(events), q.pending...)
	if extra := len(q.pending) - MaxPendingEvents; extra > 0 {
		q.pending = q.pending[extra:]
		q.dropped += extra
	}
	q.mu.Unlock()
	q.Poke()
}

// Snapshot returns a copy of the pending events, oldest first.
func (q *EventQueue) Snapshot() []wire.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.pending)
}

// Poke makes Run try the pending events now (an event added, a
// reconnection).
func (q *EventQueue) Poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run publishes the pending events in order until ctx is cancelled.
func (q *EventQueue) Run(ctx context.Context) {
	retry := time.NewTicker(eventRetry)
	defer retry.Stop()
	for {
		q.Flush(ctx)
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-retry.C:
		}
	}
}

// Flush publishes the pending events in order until the broker refuses
// one or none is left: one turn of Run.
func (q *EventQueue) Flush(ctx context.Context) {
	published := 0
	defer func() {
		// Once per burst, not per event: one published again after a
		// crash in between keeps its ID.
		if published > 0 && q.onChange != nil {
			q.onChange()
		}
	}()
	for ctx.Err() == nil {
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.mu.Unlock()
			return
		}
		e := q.pending[0]
		q.mu.Unlock()
		if err := q.pub.PublishEvent(ctx, e); err != nil {
			q.log.Debug("event not published yet; will retry", "event_id", e.ID, "error", err.Error())
			return
		}
		published++
		q.mu.Lock()
		if len(q.pending) > 0 && q.pending[0].ID == e.ID {
			q.pending = q.pending[1:]
		}
		q.mu.Unlock()
	}
}
