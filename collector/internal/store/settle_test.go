package store

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/collector/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// refusedRead is a read refused alone, as wire.DecodeReadBatch reports it,
// with a JSON of size bytes.
func refusedRead(index int, reason string, size int) wire.RefusedRead {
	raw := fmt.Appendf(nil, `{"address":"127.0.0.9","model":%q}`, strings.Repeat("m", size))
	return wire.RefusedRead{Index: index, Reason: reason, Raw: raw}
}

// TestSaveBatchesDeadLettersRefusedReads checks that the reads a batch
// refused alone are dead-lettered one by one, whole, with their batch and
// index; that the batch is stored with its good reads and remembers what
// was refused; and that a re-send is a duplicate that says the same and
// adds no dead letter.
func TestSaveBatchesDeadLettersRefusedReads(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			s := migratedStore(t, d)
			ctx := context.Background()
			batch := agentBatch("agent-1", 5, read("A", t0, 10))
			refused := []wire.RefusedRead{
				refusedRead(1, "counter total is negative (-5)", 10),
				refusedRead(2, "malformed read: cannot unmarshal", 200<<10), // over the old 64 KiB cut
			}
			allRefused := agentBatch("agent-1", 6)
			in := []IncomingBatch{
				{Batch: batch, Key: "batch-5", Refused: refused, ReceivedAt: receivedAt},
				{Batch: allRefused, Key: "batch-6", Refused: []wire.RefusedRead{refusedRead(0, "address missing", 10)}, ReceivedAt: receivedAt},
			}
			wantRefused := [][]wire.RefusedRead{
				{{Index: 1, Reason: refused[0].Reason}, {Index: 2, Reason: refused[1].Reason}},
				{{Index: 0, Reason: "address missing"}},
			}
			for attempt, wantDuplicate := range []bool{false, true} {
				results, err := s.SaveBatches(ctx, in)
				if err != nil {
					t.Fatalf("SaveBatches %d: %v", attempt, err)
				}
				for i, r := range results {
					if r.Err != nil || r.Duplicate != wantDuplicate || !reflect.DeepEqual(r.Refused, wantRefused[i]) {
						t.Errorf("attempt %d, batch %d: result = %+v, want duplicate %v and refused %+v", attempt, i, r, wantDuplicate, wantRefused[i])
					}
				}
				if !wantDuplicate && (results[0].Stored != 1 || results[1].Stored != 0) {
					t.Errorf("stored = %d, %d; want 1, 0", results[0].Stored, results[1].Stored)
				}
				want := storetest.Counts{Agents: 1, Devices: 1, Batches: 2, Reads: 1, DeadLetters: 3}
				if got := mustCount(t, s); got != want {
					t.Errorf("attempt %d: counts = %+v, want %+v", attempt, got, want)
				}
			}

			letters, err := reader(s).DeadLetters(ctx)
			if err != nil {
				t.Fatal(err)
			}
			type letter struct {
				Agent, Key, Topic, Reason string
				Seq, Index                int64
				Payload                   []byte
			}
			var got []letter
			for _, l := range letters {
				got = append(got, letter{l.AgentID, l.BatchKey.String, l.Topic, l.Reason, l.Seq.Int64, l.ReadIndex.Int64, l.Payload})
			}
			readsTopic := topic.For("agent-1", topic.Reads)
			want := []letter{
				{"agent-1", "batch-5", readsTopic, "invalid read: " + refused[0].Reason, 5, 1, refused[0].Raw},
				{"agent-1", "batch-5", readsTopic, "invalid read: " + refused[1].Reason, 5, 2, refused[1].Raw},
				{"agent-1", "batch-6", readsTopic, "invalid read: address missing", 6, 0, in[1].Refused[0].Raw},
			}
			if !reflect.DeepEqual(got, want) {
				for i := range got {
					t.Logf("dead letter %d: %s %s seq %d index %d, %q, %d bytes", i, got[i].Agent, got[i].Key, got[i].Seq, got[i].Index, got[i].Reason, len(got[i].Payload))
				}
				t.Errorf("dead letters differ from the refused reads, each alone and whole with its batch and index")
			}
		})
	}
}

// TestSaveBatchesReusedSequence checks that a batch whose (agent,
// sequence) was stored under another batch key is stored, reads and all,
// and raises an event; and that a batch stored before batch keys existed
// (key ”) still catches its re-sends.
func TestSaveBatchesReusedSequence(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			s := migratedStore(t, d)
			ctx := context.Background()
			first := agentBatch("agent-1", 1, read("A", t0, 10))
			first.BatchID = "before-reinstall"
			again := agentBatch("agent-1", 1, read("A", t0.Add(time.Hour), 11), read("B", t0.Add(time.Hour), 20))
			again.BatchID = "after-reinstall"
			third := agentBatch("agent-1", 1, read("C", t0, 1))
			third.BatchID = "third"
			if _, err := s.SaveBatches(ctx, incoming(first)); err != nil {
				t.Fatal(err)
			}
			// The reused sequence twice, and once more under a third key,
			// in one call.
			results, err := s.SaveBatches(ctx, incoming(again, again, third, first))
			if err != nil {
				t.Fatal(err)
			}
			// Batches of one (agent, sequence) in one call share their
			// count of reads stored (meter_reads keeps no batch key): the
			// first takes it.
			want := []BatchResult{{Stored: 3, SequenceReused: true}, {Duplicate: true}, {Stored: 0, SequenceReused: true}, {Duplicate: true}}
			if fmt.Sprint(results) != fmt.Sprint(want) {
				t.Errorf("results = %+v, want %+v", results, want)
			}
			if c := mustCount(t, s); c.Batches != 3 || c.Reads != 4 || c.Events != 2 {
				t.Errorf("counts = %+v, want 3 batches, 4 reads, 2 events", c)
			}
			var kinds []string
			if err := s.db.SelectContext(ctx, &kinds, `SELECT kind FROM events WHERE agent_id = 'agent-1' ORDER BY id`); err != nil {
				t.Fatal(err)
			}
			if len(kinds) != 2 || kinds[0] != string(domain.EventBatchSequenceReused) {
				t.Errorf("events = %q, want two %s", kinds, domain.EventBatchSequenceReused)
			}

			// A batch stored with no key (before migration 0003) is
			// re-sent: a duplicate, whatever its key now.
			if _, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO read_batches (agent_id, seq, batch_key, reads, received_at) VALUES (?, ?, '', 1, ?)`),
				"agent-1", 9, receivedAt); err != nil {
				t.Fatal(err)
			}
			results, err = s.SaveBatches(ctx, incoming(agentBatch("agent-1", 9, read("A", t0.Add(-time.Hour), 9))))
			if err != nil {
				t.Fatal(err)
			}
			if r := results[0]; !r.Duplicate || r.SequenceReused {
				t.Errorf("re-send of a batch stored without a key = %+v, want a duplicate", r)
			}
		})
	}
}

// TestSaveDeadLetterOnce checks that the same payload refused again on
// the same topic keeps one row that counts the repeats.
func TestSaveDeadLetterOnce(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			s := migratedStore(t, d)
			ctx := context.Background()
			garbage := RefusedMessage{Topic: topic.For("agent-1", topic.Reads), Reason: "invalid: not a JSON object", Payload: []byte("garbage"), AgentID: "agent-1"}
			other := garbage
			other.Topic = topic.For("agent-2", topic.Reads)
			var repeats []bool
			for _, m := range []RefusedMessage{garbage, garbage, other, garbage} {
				repeat, err := s.SaveDeadLetter(ctx, m)
				if err != nil {
					t.Fatal(err)
				}
				repeats = append(repeats, repeat)
			}
			if want := []bool{false, true, false, true}; !reflect.DeepEqual(repeats, want) {
				t.Errorf("repeat = %v, want %v", repeats, want)
			}
			letters, err := reader(s).DeadLetters(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(letters) != 2 || letters[0].Repeats != 2 || letters[1].Repeats != 0 || !bytes.Equal(letters[0].Payload, garbage.Payload) {
				t.Errorf("dead letters = %+v, want 2, the first repeated twice", letters)
			}
		})
	}
}

func TestPruneDeadLetters(t *testing.T) {
	now := time.Date(2025, 4, 1, 8, 0, 0, 0, time.UTC)
	// letters: agent and age in days, oldest first.
	letters := []struct {
		agent string
		days  int
	}{{"a", 40}, {"a", 20}, {"b", 10}, {"a", 3}, {"a", 2}, {"b", 1}, {"c", 0}}
	tests := []struct {
		name string
		keep DeadLetterRetention
		want PrunedDeadLetters
	}{
		{"no bound keeps all", DeadLetterRetention{}, PrunedDeadLetters{Left: 7}},
		{"by age", DeadLetterRetention{MaxAge: 30 * 24 * time.Hour}, PrunedDeadLetters{Age: 1, Left: 6}},
		{"by agent, the oldest of each go", DeadLetterRetention{MaxPerAgent: 2}, PrunedDeadLetters{AgentCap: 2, Left: 5}},
		{"by count, the oldest go", DeadLetterRetention{MaxRows: 3}, PrunedDeadLetters{Count: 4, Left: 3}},
		{"all three", DeadLetterRetention{MaxAge: 15 * 24 * time.Hour, MaxPerAgent: 1, MaxRows: 2}, PrunedDeadLetters{Age: 2, AgentCap: 2, Count: 1, Left: 2}},
	}
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s := migratedStore(t, d)
					ctx := context.Background()
					for i, l := range letters {
						s.now = func() time.Time { return now.AddDate(0, 0, -l.days) }
						m := RefusedMessage{Topic: topic.For(l.agent, topic.Reads), Reason: "invalid", Payload: fmt.Appendf(nil, "%d", i), AgentID: l.agent}
						if _, err := s.SaveDeadLetter(ctx, m); err != nil {
							t.Fatal(err)
						}
					}
					got, err := s.PruneDeadLetters(ctx, tt.keep, now)
					if err != nil {
						t.Fatal(err)
					}
					if got != tt.want {
						t.Errorf("pruned = %+v, want %+v", got, tt.want)
					}
					left, err := reader(s).DeadLetters(ctx)
					if err != nil {
						t.Fatal(err)
					}
					// What is left is the newest of what was stored.
					for i, l := range left {
						if want := fmt.Sprint(len(letters) - len(left) + i); tt.name != "by agent, the oldest of each go" && string(l.Payload) != want {
							t.Errorf("letter %d left = %s, want %s", i, l.Payload, want)
						}
					}
				})
			}
		})
	}
}

// TestPruneDeadLettersOneAtATime checks that on PostgreSQL a collector
// skips pruning while another one prunes.
func TestPruneDeadLettersOneAtATime(t *testing.T) {
	s := migratedStore(t, dialects[1]) // skips without PostgreSQL
	if s.Dialect() != schema.Postgres {
		t.Fatal("not PostgreSQL")
	}
	ctx := context.Background()
	other, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7236837, $1)`, pruneLockKey); err != nil {
		t.Fatal(err)
	}
	got, err := s.PruneDeadLetters(ctx, DeadLetterRetention{MaxRows: 1}, time.Now())
	if err != nil || !got.Skipped {
		t.Errorf("PruneDeadLetters while another prunes = %+v, %v; want skipped", got, err)
	}
}

// TestMigrationKeepsBatchesAndDeadLetters applies migration 0003 to a
// database holding batches and dead letters of before: the batches keep
// catching their re-sends, the letters get their agent.
func TestMigrationKeepsBatchesAndDeadLetters(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			s := openStore(t, d)
			ctx := context.Background()
			ms, err := schema.Migrations(s.dialect)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms[:2] {
				if _, err := s.db.ExecContext(ctx, m.SQL); err != nil {
					t.Fatalf("apply %s: %v", m.Name, err)
				}
			}
			if _, err := s.db.ExecContext(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			for _, stmt := range []string{
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'a', 'x'), (2, 'b', 'x')`,
				`INSERT INTO read_batches (agent_id, seq, reads, received_at) VALUES ('agent-1', 1, 1, '2025-04-01T07:00:00Z')`,
				`INSERT INTO dead_letters (received_at, topic, reason, payload) VALUES ('2025-04-01T07:00:00Z', 'meterline/v1/agents/agent-7/reads', 'invalid', 'x')`,
			} {
				if _, err := s.db.ExecContext(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			if _, err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			results, err := s.SaveBatches(ctx, incoming(agentBatch("agent-1", 1, read("A", t0, 10))))
			if err != nil {
				t.Fatal(err)
			}
			if !results[0].Duplicate {
				t.Errorf("re-send of a batch stored before the migration = %+v, want a duplicate", results[0])
			}
			letters, err := reader(s).DeadLetters(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(letters) != 1 || letters[0].AgentID != "agent-7" {
				t.Errorf("dead letters = %+v, want one of agent-7", letters)
			}
		})
	}
}
