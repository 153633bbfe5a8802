package alerts

import (
	"fmt"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

func ids(events []wire.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.ID)
	}
	return out
}

func TestEventIDsAreStable(t *testing.T) {
	p := pollStep{
		supplies: []wire.Supply{toner(1, "black", 5), toner(2, "cyan", 0)},
		conds:    []domain.Condition{domain.CondJammed},
	}
	first := NewTracker(Options{}).Observe(agent, p.read(0))
	again := NewTracker(Options{}).Observe(agent, p.read(0))
	if len(first) != 3 {
		t.Fatalf("events = %+v, want 3", first)
	}
	if fmt.Sprint(ids(first)) != fmt.Sprint(ids(again)) {
		t.Errorf("the same read gave IDs %v then %v", ids(first), ids(again))
	}
	seen := map[string]bool{}
	for _, e := range first {
		if seen[e.ID] {
			t.Errorf("ID %s given twice in one read", e.ID)
		}
		seen[e.ID] = true
		if e.At != t0 || e.AgentID != agent || e.Schema != wire.SchemaVersion || e.Serial != "JPBCK31052" || e.Address != "127.0.0.7" {
			t.Errorf("envelope of %+v", e)
		}
	}
	// Any part of the ID's input changes it.
	base := EventID(agent, "sn:X", domain.EventTonerLow, "supply/1", t0)
	for name, other := range map[string]string{
		"agent":   EventID("other", "sn:X", domain.EventTonerLow, "supply/1", t0),
		"key":     EventID(agent, "sn:Y", domain.EventTonerLow, "supply/1", t0),
		"kind":    EventID(agent, "sn:X", domain.EventTonerEmpty, "supply/1", t0),
		"subject": EventID(agent, "sn:X", domain.EventTonerLow, "supply/2", t0),
		"time":    EventID(agent, "sn:X", domain.EventTonerLow, "supply/1", t0.Add(time.Nanosecond)),
	} {
		if other == base {
			t.Errorf("changing the %s keeps the ID", name)
		}
	}
	// The same instant in another zone is the same read.
	if EventID(agent, "sn:X", domain.EventTonerLow, "supply/1", t0.In(time.FixedZone("CET", 3600))) != base {
		t.Error("the ID depends on the time zone")
	}
}

func TestMeterEventCarriesValues(t *testing.T) {
	tr := NewTracker(Options{})
	tr.Observe(agent, pollStep{meters: map[domain.CounterKind]int64{domain.CounterBlack: 123456}}.read(0))
	events := tr.Observe(agent, pollStep{meters: map[domain.CounterKind]int64{domain.CounterBlack: 1200}}.read(1))
	if len(events) != 1 {
		t.Fatalf("events = %+v", events)
	}
	e := events[0]
	if e.Previous == nil || *e.Previous != 123456 || e.Current == nil || *e.Current != 1200 || e.Supply != nil {
		t.Errorf("event = %+v", e)
	}
}

func TestOlderReadIsIgnored(t *testing.T) {
	tr := NewTracker(Options{})
	tr.Observe(agent, pollStep{meters: map[domain.CounterKind]int64{domain.CounterTotal: 5000}}.read(2))
	if got := tr.Observe(agent, pollStep{meters: map[domain.CounterKind]int64{domain.CounterTotal: 4000}}.read(1)); got != nil {
		t.Errorf("a read older than the last one raised %+v", got)
	}
	if got := tr.Observe(agent, pollStep{meters: map[domain.CounterKind]int64{domain.CounterTotal: 5001}}.read(3)); got != nil {
		t.Errorf("the next read raised %+v", got)
	}
}

func TestUnreachableOncePerOutage(t *testing.T) {
	tr := NewTracker(Options{})
	key := "sn:JPBCK31052"
	since := t0.Add(30 * time.Minute)

	e, ok := tr.Unreachable(agent, key, "127.0.0.7", since)
	if !ok {
		t.Fatal("first outage not reported")
	}
	want := wire.Event{Schema: 1, AgentID: agent, ID: EventID(agent, key, domain.EventDeviceUnreachable, "device", since),
		At: since, Kind: domain.EventDeviceUnreachable, Serial: "JPBCK31052", Address: "127.0.0.7",
		Message: "Not answering since 2026-03-02 08:30 UTC"}
	if fmt.Sprintf("%+v", e) != fmt.Sprintf("%+v", want) {
		t.Errorf("event = %+v\nwant    %+v", e, want)
	}
	if _, ok := tr.Unreachable(agent, key, "127.0.0.7", since.Add(time.Hour)); ok {
		t.Error("the same outage reported twice")
	}
	tr.Reachable(key)
	if _, ok := tr.Unreachable(agent, key, "127.0.0.7", since.Add(2*time.Hour)); !ok {
		t.Error("an outage after Reachable not reported")
	}
	// A read is an answer: it re-arms too.
	tr.Observe(agent, pollStep{}.read(5))
	if _, ok := tr.Unreachable(agent, key, "127.0.0.7", since.Add(6*time.Hour)); !ok {
		t.Error("an outage after a read not reported")
	}
	// A device known only by address has no serial to give.
	if e, _ := tr.Unreachable(agent, "addr:"+agent+"/127.0.0.9:161", "127.0.0.9:161", since); e.Serial != "" {
		t.Errorf("serial %q for an address key", e.Serial)
	}
}

func TestSnapshotRestoreKeepsAlertsRaised(t *testing.T) {
	low := pollStep{supplies: []wire.Supply{toner(4, "yellow", 3)}, conds: []domain.Condition{domain.CondJammed},
		meters: map[domain.CounterKind]int64{domain.CounterTotal: 61540}}
	tr := NewTracker(Options{})
	if got := tr.Observe(agent, low.read(0)); len(got) != 2 {
		t.Fatalf("first read raised %+v", got)
	}
	tr.Unreachable(agent, "sn:OTHER", "127.0.0.8", t0)
	b, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	restored := NewTracker(Options{})
	if err := restored.Restore(b); err != nil {
		t.Fatal(err)
	}
	if got := restored.Observe(agent, low.read(1)); got != nil {
		t.Errorf("after a restore, standing alerts raised again: %+v", got)
	}
	if _, ok := restored.Unreachable(agent, "sn:OTHER", "127.0.0.8", t0.Add(time.Hour)); ok {
		t.Error("after a restore, a reported outage reported again")
	}
	// Comparisons with the read before the restart still work.
	back := low
	back.meters = map[domain.CounterKind]int64{domain.CounterTotal: 100}
	if got := restored.Observe(agent, back.read(2)); len(got) != 1 || got[0].Kind != domain.EventCounterBackwards {
		t.Errorf("meter going back after a restore: %+v", got)
	}
}

func TestRestoreRejectsWhatItCannotRead(t *testing.T) {
	tr := NewTracker(Options{})
	tr.Observe(agent, pollStep{conds: []domain.Condition{domain.CondJammed}}.read(0))
	for _, b := range []string{`{"version":99,"devices":{}}`, `not json`} {
		if err := tr.Restore([]byte(b)); err == nil {
			t.Errorf("Restore(%s) accepted", b)
		}
	}
	if tr.Len() != 1 {
		t.Errorf("a failed restore changed the tracker: %d devices", tr.Len())
	}
}

func TestTrackerIsBounded(t *testing.T) {
	tr := NewTracker(Options{MaxDevices: 3})
	read := func(serial string, i int) wire.DeviceRead {
		return wire.DeviceRead{Serial: serial, Address: "127.0.0.1", ReadAt: t0.Add(time.Duration(i) * time.Minute),
			Status: &wire.Status{Conditions: []domain.Condition{domain.CondJammed}}}
	}
	for i, s := range []string{"A", "B", "C", "A", "D"} { // B is the least recently seen when D comes
		tr.Observe(agent, read(s, i))
	}
	if tr.Len() != 3 {
		t.Fatalf("Len = %d, want 3", tr.Len())
	}
	if got := tr.Observe(agent, read("A", 10)); got != nil {
		t.Errorf("A was evicted: %+v", got)
	}
	if got := tr.Observe(agent, read("B", 11)); len(got) != 1 {
		t.Errorf("B was kept: %+v", got)
	}
	tr.Forget("sn:B")
	if got := tr.Observe(agent, read("B", 12)); len(got) != 1 {
		t.Errorf("Forget kept B: %+v", got)
	}
}
