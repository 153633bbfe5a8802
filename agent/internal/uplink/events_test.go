package uplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/meterline/meterline/shared/wire"
)

// eventBroker takes events while up, recording their IDs.
type eventBroker struct {
	up  bool
	ids []string
}

func (b *eventBroker) PublishEvent(_ context.Context, e wire.Event) error {
	if !b.up {
		return errors.New("broker down")
	}
	b.ids = append(b.ids, e.ID)
	return nil
}

func TestEventQueue(t *testing.T) {
	ev := func(id string) wire.Event { return wire.Event{ID: id} }
	tests := []struct {
		name     string
		added    int      // events added, "a0", "a1", …
		restored []string // events of an earlier run, restored after the adds
		want     []string // published, in order, once the broker is up
		changes  int      // OnChange calls
	}{
		{"nothing pending", 0, nil, nil, 0},
		{"in order", 2, nil, []string{"a0", "a1"}, 1},
		{"restored go first", 1, []string{"r0", "r1"}, []string{"r0", "r1", "a0"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &eventBroker{}
			q := NewEventQueue(b, slog.New(slog.DiscardHandler))
			changes := 0
			q.OnChange(func() { changes++ })
			for i := range tt.added {
				q.Add(ev(fmt.Sprintf("a%d", i)))
			}
			var restored []wire.Event
			for _, id := range tt.restored {
				restored = append(restored, ev(id))
			}
			q.Restore(restored)
			q.Flush(t.Context()) // broker down: nothing leaves
			if len(q.Snapshot()) != tt.added+len(tt.restored) || changes != 0 {
				t.Fatalf("broker down: %d pending, %d changes", len(q.Snapshot()), changes)
			}
			b.up = true
			q.Flush(t.Context())
			if fmt.Sprint(b.ids) != fmt.Sprint(tt.want) || len(q.Snapshot()) != 0 || changes != tt.changes {
				t.Errorf("published %v, %d pending, %d changes; want %v, none, %d", b.ids, len(q.Snapshot()), changes, tt.want, tt.changes)
			}
		})
	}
}

func TestEventQueueBound(t *testing.T) {
	q := NewEventQueue(&eventBroker{}, slog.New(slog.DiscardHandler))
	for i := range MaxPendingEvents + 3 {
		q.Add(wire.Event{ID: fmt.Sprint(i)})
	}
	q.Restore([]wire.Event{{ID: "old"}})
	got := q.Snapshot()
	if len(got) != MaxPendingEvents || got[0].ID != "3" || got[len(got)-1].ID != fmt.Sprint(MaxPendingEvents+2) {
		t.Errorf("%d pending, %s…%s; want %d, the oldest dropped", len(got), got[0].ID, got[len(got)-1].ID, MaxPendingEvents)
	}
}
