package main

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/meterline/meterline/agent/internal/alerts"
	"github.com/meterline/meterline/agent/internal/poll"
	"github.com/meterline/meterline/agent/internal/statefile"
	"github.com/meterline/meterline/shared/wire"
)

// alertsFile keeps, in the state directory, what the alert rules know of
// each device, so that a restart does not raise every standing alert again,
// and the events the broker has not taken yet, so that a restart (a clean
// stop during an outage, a crash, a SIGKILL) does not lose them: the
// tracker has moved on, and would never raise them again. Both are one
// file, written after every change, so that neither is kept without the
// other.
const alertsFile = "alerts.json"

// alertState is alertsFile. A file of an earlier version holds the
// tracker's snapshot alone.
type alertState struct {
	Tracker json.RawMessage `json:"tracker"`
	// Pending are the events not yet taken by the broker, oldest first.
	// One published again after a restart has its ID: the collector
	// stores it once.
	Pending []wire.Event `json:"pending,omitempty"`
}

// maxPendingEvents bounds the events waiting for the broker. Events are
// notices, not billing data: past the bound the oldest are dropped, with a
// log line, rather than growing without end during a long outage.
const maxPendingEvents = 1000

// eventRetry is how often events are tried again while the broker does not
// take them and no reconnection says it is back.
const eventRetry = 30 * time.Second

// eventPublisher publishes an event and waits for the broker to take it.
type eventPublisher interface {
	PublishEvent(ctx context.Context, e wire.Event) error
}

// alertingSink is the poll.Sink of the daemon: it hands each round's reads
// to the outbox, then runs them through the alert rules and queues the
// events they raise for the broker. Neither step waits on the network.
type alertingSink struct {
	next    poll.Sink
	tracker *alerts.Tracker
	agentID string
	events  *eventQueue
	state   string // alertsFile; empty keeps nothing
	now     func() time.Time
	log     *slog.Logger

	mu   sync.Mutex
	keys map[string]string // target → device key of its last read

	saving sync.Mutex // one save at a time, so that the last written is the newest
}

func newAlertingSink(next poll.Sink, agentID, stateDir string, events *eventQueue, now func() time.Time, log *slog.Logger) *alertingSink {
	s := &alertingSink{
		next:    next,
		tracker: alerts.NewTracker(alerts.Options{}),
		agentID: agentID,
		events:  events,
		now:     now,
		log:     log,
		keys:    map[string]string{},
	}
	if stateDir != "" {
		s.state = filepath.Join(stateDir, alertsFile)
		s.restore()
		events.onChange = s.save
	}
	return s
}

func (s *alertingSink) restore() {
	b, err := os.ReadFile(s.state)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var st alertState
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err == nil && st.Tracker == nil {
		st.Tracker = b // an earlier version's file: the tracker alone
	}
	if err == nil {
		err = s.tracker.Restore(st.Tracker)
	}
	if err != nil {
		s.log.Warn("alert state unreadable; standing alerts may be raised once more", "file", s.state, "error", err.Error())
		return
	}
	if len(st.Pending) > 0 {
		s.log.Info("events of the last run not yet published are queued again", "events", len(st.Pending))
		s.events.restore(st.Pending)
	}
}

// Deliver implements poll.Sink.
func (s *alertingSink) Deliver(ctx context.Context, reads []wire.DeviceRead) error {
	err := s.next.Deliver(ctx, reads)
	s.mu.Lock()
	for _, r := range reads {
		s.keys[r.Address] = r.Key(s.agentID)
	}
	s.mu.Unlock()
	for _, r := range reads {
		for _, e := range s.tracker.Observe(s.agentID, r) {
			s.log.Info("alert", "kind", string(e.Kind), "target", r.Address, "serial", r.Serial, "message", e.Message)
			s.events.add(e)
		}
	}
	s.save()
	return err
}

// Failed implements poll.FailureSink: a device known from an earlier read
// that fails a round raises device_unreachable, once per outage.
func (s *alertingSink) Failed(_ context.Context, failures []*poll.TargetError) {
	raised := false
	for _, f := range failures {
		s.mu.Lock()
		key, known := s.keys[f.Target]
		s.mu.Unlock()
		if !known {
			continue // never read: nothing to say it stopped answering
		}
		if e, ok := s.tracker.Unreachable(s.agentID, key, f.Target, s.now()); ok {
			s.log.Info("alert", "kind", string(e.Kind), "target", f.Target, "message", e.Message)
			s.events.add(e)
			raised = true
		}
	}
	if raised {
		s.save()
	}
}

func (s *alertingSink) save() {
	if s.state == "" {
		return
	}
	s.saving.Lock()
	defer s.saving.Unlock()
	tracker, err := s.tracker.Snapshot()
	var b []byte
	if err == nil {
		b, err = json.Marshal(alertState{Tracker: tracker, Pending: s.events.snapshot()})
	}
	if err == nil {
		err = statefile.WriteAtomic(s.state, b)
	}
	if err != nil {
		s.log.Warn("save alert state", "file", s.state, "error", err.Error())
	}
}

// eventQueue hands events to the broker from a goroutine of its own, so
// that a slow or absent broker never holds up a poll round. Events that
// the broker does not take wait, up to maxPendingEvents, and are tried
// again on reconnection and every eventRetry.
type eventQueue struct {
	pub  eventPublisher
	log  *slog.Logger
	wake chan struct{}
	// onChange, when set, is called after published events leave the
	// queue (the sink saves it). Set before run.
	onChange func()

	mu      sync.Mutex
	pending []wire.Event
	dropped int
}

func newEventQueue(pub eventPublisher, log *slog.Logger) *eventQueue {
	return &eventQueue{pub: pub, log: log, wake: make(chan struct{}, 1)}
}

func (q *eventQueue) add(e wire.Event) {
	q.mu.Lock()
	if len(q.pending) >= maxPendingEvents {
		q.pending = q.pending[1:]
		q.dropped++
		q.log.Warn("too many events wait for the broker; dropped the oldest", "dropped_total", q.dropped)
	}
	q.pending = append(q.pending, e)
	q.mu.Unlock()
	q.poke()
}

// restore queues events of an earlier run, before those added since.
func (q *eventQueue) restore(events []wire.Event) {
	q.mu.Lock()
	q.pending = append(slices.Clone(events), q.pending...)
	if extra := len(q.pending) - maxPendingEvents; extra > 0 {
		q.pending = q.pending[extra:]
		q.dropped += extra
	}
	q.mu.Unlock()
	q.poke()
}

// snapshot returns a copy of the pending events, oldest first.
func (q *eventQueue) snapshot() []wire.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.pending)
}

// poke makes run try the pending events now (an event added, a
// reconnection).
func (q *eventQueue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run publishes the pending events in order until ctx is cancelled.
func (q *eventQueue) run(ctx context.Context) {
	retry := time.NewTicker(eventRetry)
	defer retry.Stop()
	for {
		q.flush(ctx)
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-retry.C:
		}
	}
}

func (q *eventQueue) flush(ctx context.Context) {
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
