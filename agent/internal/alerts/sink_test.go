package alerts

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/meterline/meterline/agent/internal/uplink"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// fakeBroker takes events when up and refuses them when down.
type fakeBroker struct {
	mu        sync.Mutex
	up        bool
	published []wire.Event
}

func (b *fakeBroker) PublishEvent(_ context.Context, e wire.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.up {
		return errors.New("broker down")
	}
	b.published = append(b.published, e)
	return nil
}

func (b *fakeBroker) events() []wire.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]wire.Event(nil), b.published...)
}

// discardSink stands for the outbox.
type discardSink struct{}

func (discardSink) Deliver(context.Context, []wire.DeviceRead) error { return nil }

// agentRun is one run of the agent's alerting: its sink and the uplink's
// event queue over a state directory. A run is never stopped: whether the agent was
// stopped cleanly or killed, nothing runs at exit that is not also done
// at every change, which is what this proves.
type agentRun struct {
	sink   *Sink
	events *uplink.EventQueue
}

func startRun(stateDir string, broker *fakeBroker) agentRun {
	log := slog.New(slog.DiscardHandler)
	q := uplink.NewEventQueue(broker, log)
	return agentRun{sink: NewSink(discardSink{}, "agent-1", stateDir, q, time.Now, log), events: q}
}

// deliver hands one read of the device with its total meter at total, and
// then lets the queue try the broker once, as its goroutine would.
func (r agentRun) deliver(t *testing.T, at time.Time, total int64) {
	t.Helper()
	read := wire.DeviceRead{
		Serial: "SN1", Address: "127.0.0.1:161", ReadAt: at,
		Counters: []wire.Counter{{Kind: domain.CounterTotal, Value: total, Unit: domain.UnitImpressions}},
	}
	if err := r.sink.Deliver(context.Background(), []wire.DeviceRead{read}); err != nil {
		t.Fatal(err)
	}
	r.events.Flush(context.Background())
}

// TestCounterBackwardsSurvivesRestart restarts the agent's alerting over
// one state directory and checks that a page meter going backwards is
// published exactly once, whether it went back before the
// restart (its event still waiting for the broker) or after it.
func TestCounterBackwardsSurvivesRestart(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		// before and after the restart: the total meter of each read
		before, after []int64
		// brokerUpBefore: whether the broker took events before the
		// restart
		brokerUpBefore bool
	}{
		{"goes back before, broker down until the restart", []int64{1000, 900}, []int64{900, 950}, false},
		{"goes back before, broker down, no read after", []int64{1000, 900}, nil, false},
		{"goes back before, published before the restart", []int64{1000, 900}, []int64{900}, true},
		{"goes back after the restart", []int64{1000}, []int64{900, 950}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stateDir := t.TempDir()
			broker := &fakeBroker{up: tt.brokerUpBefore}
			at := t0
			first := startRun(stateDir, broker)
			for _, total := range tt.before {
				at = at.Add(15 * time.Minute)
				first.deliver(t, at, total)
			}

			// The first run is abandoned as it stands: a SIGKILL.
			broker.mu.Lock()
			broker.up = true
			broker.mu.Unlock()
			second := startRun(stateDir, broker)
			second.events.Flush(context.Background())
			for _, total := range tt.after {
				at = at.Add(15 * time.Minute)
				second.deliver(t, at, total)
			}

			// Exactly once: a run that published the event saved that it
			// did, so the next does not publish it again.
			got := broker.events()
			if len(got) != 1 || got[0].Kind != domain.EventCounterBackwards {
				t.Errorf("published %+v, want one counter_backwards", got)
			}
		})
	}
}

// TestAlertStateOfEarlierVersion reads an alerts.json written before
// pending events were kept: the tracker's snapshot alone.
func TestAlertStateOfEarlierVersion(t *testing.T) {
	stateDir := t.TempDir()
	tr := NewTracker(Options{})
	tr.Observe("agent-1", wire.DeviceRead{Serial: "SN1", Address: "127.0.0.1:161", ReadAt: time.Now().Add(-time.Hour),
		Counters: []wire.Counter{{Kind: domain.CounterTotal, Value: 1000, Unit: domain.UnitImpressions}}})
	b, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stateDir, StateFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	broker := &fakeBroker{up: true}
	startRun(stateDir, broker).deliver(t, time.Now(), 900)
	if got := broker.events(); len(got) != 1 || got[0].Kind != domain.EventCounterBackwards {
		t.Errorf("events after the upgrade: %+v, want one counter_backwards against the meter kept by the earlier version", got)
	}
}
