package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/meterline/meterline/agent/internal/poll"
	"github.com/meterline/meterline/agent/internal/statefile"
	"github.com/meterline/meterline/shared/wire"
)

// StateFile keeps, in the state directory, what the alert rules know of
// each device, so that a restart does not raise every standing alert again,
// and the events the broker has not taken yet, so that a restart (a clean
// stop during an outage, a crash, a SIGKILL) does not lose them: the
// tracker has moved on, and would never raise them again. Both are one
// file, written after every change, so that neither is kept without the
// other.
const StateFile = "alerts.json"

// savedState is StateFile. A file of an earlier version holds the tracker's
// snapshot alone.
type savedState struct {
	Tracker json.RawMessage `json:"tracker"`
	// Pending are the events not yet taken by the broker, oldest first.
	// One published again after a restart has its ID: the collector
	// stores it once.
	Pending []wire.Event `json:"pending,omitempty"`
}

// EventQueue holds the events raised until the broker takes them
// (uplink.EventQueue is one).
type EventQueue interface {
	// Add queues an event; it must not wait on the network.
	Add(e wire.Event)
	// Restore queues the events of an earlier run before those added.
	Restore(events []wire.Event)
	// Snapshot returns the events still pending, oldest first.
	Snapshot() []wire.Event
	// OnChange registers a function called when published events leave
	// the queue.
	OnChange(f func())
}

// Sink is the poll.Sink of the daemon: it hands each round's reads to
// the next sink (the outbox), then runs them through the alert rules and
// queues the events they raise. Neither step waits on the network. What
// the rules know and the pending events are kept in StateFile.
type Sink struct {
	next    poll.Sink
	tracker *Tracker
	agentID string
	events  EventQueue
	state   string // StateFile; empty keeps nothing
	now     func() time.Time
	log     *slog.Logger

	mu   sync.Mutex
	keys map[string]string // target → device key of its last read

	saving sync.Mutex // one save at a time, so that the last written is the newest
}

// NewSink returns a sink handing reads to next and events to events, with
// its state in stateDir (none when empty), restored from there.
func NewSink(next poll.Sink, agentID, stateDir string, events EventQueue, now func() time.Time, log *slog.Logger) *Sink {
	s := &Sink{
		next:    next,
		tracker: NewTracker(Options{}),
		agentID: agentID,
		events:  events,
		now:     now,
		log:     log,
		keys:    map[string]string{},
	}
	if stateDir != "" {
		s.state = filepath.Join(stateDir, StateFile)
		s.restore()
		events.OnChange(s.save)
	}
	return s
}

func (s *Sink) restore() {
	b, err := os.ReadFile(s.state)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var st savedState
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
		s.events.Restore(st.Pending)
	}
}

// Deliver implements poll.Sink.
func (s *Sink) Deliver(ctx context.Context, reads []wire.DeviceRead) error {
	err := s.next.Deliver(ctx, reads)
	s.mu.Lock()
	for _, r := range reads {
		s.keys[r.Address] = r.Key(s.agentID)
	}
	s.mu.Unlock()
	for _, r := range reads {
		for _, e := range s.tracker.Observe(s.agentID, r) {
			s.log.Info("alert", "kind", string(e.Kind), "target", r.Address, "serial", r.Serial, "message", e.Message)
			s.events.Add(e)
		}
	}
	s.save()
	return err
}

// Failed implements poll.FailureSink: a device known from an earlier read
// that fails a round raises device_unreachable, once per outage.
func (s *Sink) Failed(_ context.Context, failures []*poll.TargetError) {
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
			s.events.Add(e)
			raised = true
		}
	}
	if raised {
		s.save()
	}
}

func (s *Sink) save() {
	if s.state == "" {
		return
	}
	s.saving.Lock()
	defer s.saving.Unlock()
	tracker, err := s.tracker.Snapshot()
	var b []byte
	if err == nil {
		b, err = json.Marshal(savedState{Tracker: tracker, Pending: s.events.Snapshot()})
	}
	if err == nil {
		err = statefile.WriteAtomic(s.state, b)
	}
	if err != nil {
		s.log.Warn("save alert state", "file", s.state, "error", err.Error())
	}
}
