package ingest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/meterline/meterline/collector/internal/store"
	"github.com/meterline/meterline/collector/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema/schematest"
	"github.com/meterline/meterline/shared/wire"
)

// openStore opens a migrated database of its own: SQLite, or PostgreSQL
// when the test server is set.
func openStore(t *testing.T, url string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), url, discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// batchWithReads is a read batch of agent-1 whose reads are given as JSON.
func batchWithReads(seq uint64, batchID string, reads ...string) string {
	return fmt.Sprintf(`{"schema":1,"agent_id":"agent-1","seq":%d,"batch_id":%q,"reads":[%s]}`, seq, batchID, strings.Join(reads, ","))
}

const (
	goodRead     = `{"serial":"SN1","address":"127.0.0.1","read_at":"2025-03-31T22:00:00Z","counters":[{"kind":"total","value":10}]}`
	goodRead2    = `{"serial":"SN2","address":"127.0.0.2","read_at":"2025-03-31T22:00:00Z","counters":[{"kind":"total","value":20}]}`
	negativeRead = `{"serial":"SN3","address":"127.0.0.3","read_at":"2025-03-31T22:00:00Z","counters":[{"kind":"total","value":-5}]}`
	// A read of the wrong shape: counters is not a list.
	malformedRead = `{"serial":"SN4","address":"127.0.0.4","read_at":"2025-03-31T22:00:00Z","counters":"many"}`
	noAddressRead = `{"serial":"SN5","read_at":"2025-03-31T22:00:00Z"}`
)

// TestPipelineSettlesEveryBatch sends, one at a time, batches with bad
// reads, batches refused whole and garbage, through the pipeline into a
// real database, and checks for each what the agent is told, what is
// stored and what is dead-lettered; and that a re-send is told the same
// and adds no dead letter.
func TestPipelineSettlesEveryBatch(t *testing.T) {
	type step struct {
		name    string
		topic   string
		payload string
		// ack is the agent's ack expected, nil for none.
		ack *wire.BatchAck
		// letters and reads are the rows of dead_letters and meter_reads
		// after the step; events the events.
		letters, reads, events int
	}
	rejected := func(seq uint64, id, reason string) *wire.BatchAck {
		return &wire.BatchAck{Seq: seq, BatchID: id, Rejected: reason}
	}
	mixed := batchWithReads(1, "b1", goodRead, negativeRead, malformedRead)
	mixedAck := &wire.BatchAck{Seq: 1, BatchID: "b1", Refused: []wire.RefusedRead{
		{Index: 1, Reason: "counter total is negative (-5)"},
		{Index: 2, Reason: "malformed read: "}, // compared by prefix
	}}
	allBad := batchWithReads(2, "b2", noAddressRead)
	allBadAck := &wire.BatchAck{Seq: 2, BatchID: "b2", Refused: []wire.RefusedRead{{Index: 0, Reason: "address missing"}}}
	newerSchema := `{"schema":9,"agent_id":"agent-1","seq":3,"batch_id":"b3","reads":[]}`
	otherAgent := strings.Replace(batchWithReads(4, "b4", goodRead2), `"agent-1"`, `"agent-2"`, 1)
	reused := batchWithReads(1, "b1-after-reinstall", goodRead2)
	steps := []step{
		{"good, negative and malformed reads", readsTopic, mixed, mixedAck, 2, 1, 0},
		{"the same batch re-sent", readsTopic, mixed, mixedAck, 2, 1, 0},
		{"every read refused", readsTopic, allBad, allBadAck, 3, 1, 0},
		{"newer schema", readsTopic, newerSchema, rejected(3, "b3", "schema: schema version 9 is not supported (want 1)"), 4, 1, 0},
		{"newer schema re-sent", readsTopic, newerSchema, rejected(3, "b3", "schema: schema version 9 is not supported (want 1)"), 4, 1, 0},
		{"garbage", readsTopic, "garbage {", nil, 5, 1, 0},
		{"garbage re-sent", readsTopic, "garbage {", nil, 5, 1, 0},
		{"another agent's batch", readsTopic, otherAgent, nil, 6, 1, 0},
		{"sequence reused under a new batch id", readsTopic, reused, &wire.BatchAck{Seq: 1, BatchID: "b1-after-reinstall"}, 6, 2, 1},
	}
	for _, dialect := range []struct {
		name string
		url  func(testing.TB) string
	}{{"sqlite", schematest.SQLiteURL}, {"postgres", schematest.PostgresURL}} {
		t.Run(dialect.name, func(t *testing.T) {
			url := dialect.url(t)
			st := openStore(t, url)
			rd := storetest.Open(t, url)
			pub := &fakePublisher{}
			p := newPipeline(t, st, pub, 2)
			ctx := context.Background()
			for _, s := range steps {
				m := newMessage(s.topic, s.payload)
				p.Handle(m)
				waitAcked(t, m)
				acks := pub.take()
				switch {
				case s.ack == nil && len(acks) != 0:
					t.Errorf("%s: acks = %+v, want none", s.name, acks)
				case s.ack != nil:
					if len(acks) != 1 || !sameBatchAck(acks[0], *s.ack) {
						t.Errorf("%s: acks = %+v, want one of agent-1 settling %+v", s.name, acks, *s.ack)
					}
				}
				c, err := rd.Counts(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if c.DeadLetters != s.letters || c.Reads != s.reads || c.Events != s.events {
					t.Errorf("%s: %d dead letters, %d reads, %d events; want %d, %d, %d", s.name, c.DeadLetters, c.Reads, c.Events, s.letters, s.reads, s.events)
				}
			}

			letters, err := rd.DeadLetters(ctx)
			if err != nil {
				t.Fatal(err)
			}
			type row struct {
				Seq, Index int64
				Key        string
				Repeats    int
				Payload    string
			}
			var got []row
			for _, l := range letters {
				if l.AgentID != "agent-1" {
					t.Errorf("dead letter %d of agent %q, want agent-1 (the topic's)", l.ID, l.AgentID)
				}
				got = append(got, row{l.Seq.Int64, l.ReadIndex.Int64, l.BatchKey.String, l.Repeats, string(l.Payload)})
			}
			want := []row{
				{1, 1, "b1", 0, ""}, // the payload of a read refused by Validate is its decoded JSON
				{1, 2, "b1", 0, malformedRead},
				{2, 0, "b2", 0, ""},
				{3, 0, "b3", 1, newerSchema},
				{0, 0, "", 1, "garbage {"},
				{0, 0, "", 0, otherAgent},
			}
			for i := range want {
				if want[i].Payload == "" && i < len(got) {
					want[i].Payload = got[i].Payload
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("dead letters:\n got %+v\nwant %+v", got, want)
			}
			var kind string
			if err := sqlGet(rd, &kind); err != nil || kind != string(domain.EventBatchSequenceReused) {
				t.Errorf("event kind = %q (%v), want %s", kind, err, domain.EventBatchSequenceReused)
			}
		})
	}
}

// sqlGet reads the kind of the only event.
func sqlGet(rd *storetest.DB, kind *string) error {
	events, err := rd.Events(context.Background(), "agent-1")
	if err != nil || len(events) != 1 {
		return fmt.Errorf("events %+v: %w", events, err)
	}
	*kind = string(events[0].Kind)
	return nil
}

// sameBatchAck reports whether an ack of agent-1 settles exactly the
// batch, its seq in Sequences; refusal reasons ending in ": " are
// compared by prefix.
func sameBatchAck(a wire.Ack, want wire.BatchAck) bool {
	if a.AgentID != "agent-1" || !reflect.DeepEqual(a.Sequences, []uint64{want.Seq}) || len(a.Batches) != 1 {
		return false
	}
	got := a.Batches[0]
	if got.Seq != want.Seq || got.BatchID != want.BatchID || got.Rejected != want.Rejected || len(got.Refused) != len(want.Refused) {
		return false
	}
	for i, r := range want.Refused {
		g := got.Refused[i]
		if g.Index != r.Index || !(g.Reason == r.Reason || strings.HasSuffix(r.Reason, ": ") && strings.HasPrefix(g.Reason, r.Reason)) {
			return false
		}
	}
	return true
}
