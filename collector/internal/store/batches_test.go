package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/wire"
)

// SaveBatch stores one read batch of the agent through SaveBatches, as
// the tests of one batch at a time use it. A batch
// refused for its data returns that refusal as the error.
func (s *Store) SaveBatch(ctx context.Context, agentID string, batch wire.ReadBatch, receivedAt time.Time) (stored int, duplicate bool, err error) {
	batch.AgentID = agentID
	results, err := s.SaveBatches(ctx, []IncomingBatch{{Batch: batch, Key: testKey(batch), ReceivedAt: receivedAt}})
	if err != nil {
		return 0, false, err
	}
	r := results[0]
	return r.Stored, r.Duplicate, r.Err
}

func incoming(batches ...wire.ReadBatch) []IncomingBatch {
	in := make([]IncomingBatch, len(batches))
	for i, b := range batches {
		in[i] = IncomingBatch{Batch: b, Key: testKey(b), ReceivedAt: receivedAt}
	}
	return in
}

// testKey is the batch key of a test batch: its BatchID, else one per
// sequence, so that a batch of the same sequence is a re-send.
func testKey(b wire.ReadBatch) string {
	if b.BatchID != "" {
		return b.BatchID
	}
	return fmt.Sprintf("test-%d", b.Sequence)
}

func agentBatch(agentID string, seq uint64, reads ...wire.DeviceRead) wire.ReadBatch {
	b := batchOf(seq, reads...)
	b.AgentID = agentID
	return b
}

func TestSaveBatches(t *testing.T) {
	tests := []struct {
		name  string
		first []wire.ReadBatch // saved before, in one call
		in    []wire.ReadBatch
		want  []BatchResult // Err compared by domain code only
		reads int           // meter reads stored in the end
	}{
		{
			name: "batches of several agents in one transaction",
			in: []wire.ReadBatch{
				agentBatch("agent-1", 1, read("A", t0, 10), read("B", t0, 20)),
				agentBatch("agent-2", 1, read("C", t0, 30)),
				agentBatch("agent-1", 2, read("A", t0.Add(time.Hour), 11)),
			},
			want:  []BatchResult{{Stored: 2}, {Stored: 1}, {Stored: 1}},
			reads: 4,
		},
		{
			name:  "a batch stored before is a duplicate, the others are stored",
			first: []wire.ReadBatch{agentBatch("agent-1", 1, read("A", t0, 10))},
			in: []wire.ReadBatch{
				agentBatch("agent-1", 1, read("A", t0, 10)),
				agentBatch("agent-1", 2, read("A", t0.Add(time.Hour), 11)),
			},
			want:  []BatchResult{{Duplicate: true}, {Stored: 1}},
			reads: 2,
		},
		{
			name: "the same batch twice in one call is stored once",
			in: []wire.ReadBatch{
				agentBatch("agent-1", 7, read("A", t0, 10)),
				agentBatch("agent-1", 7, read("A", t0, 10)),
			},
			want:  []BatchResult{{Stored: 1}, {Duplicate: true}},
			reads: 1,
		},
		{
			name:  "a read re-sent in a new batch is not stored again",
			first: []wire.ReadBatch{agentBatch("agent-1", 1, read("A", t0, 10))},
			in: []wire.ReadBatch{
				agentBatch("agent-1", 2, read("A", t0, 10), read("A", t0.Add(time.Hour), 11)),
			},
			want:  []BatchResult{{Stored: 1}},
			reads: 2,
		},
		{
			name: "an invalid batch is refused alone",
			in: []wire.ReadBatch{
				agentBatch("agent-1", 1, read("A", t0, 10)),
				agentBatch("agent-1", 2, wire.DeviceRead{Serial: strings.Repeat("XY", MaxDeviceKeyBytes/2+1), Address: "127.0.0.1", ReadAt: t0}),
				agentBatch("agent-2", 1, read("C", t0, 30)),
			},
			want:  []BatchResult{{Stored: 1}, {Err: domain.Errorf(domain.EINVALID, "")}, {Stored: 1}},
			reads: 2,
		},
		{
			name: "reads of years back and months ahead are stored (default and future partitions)",
			in: []wire.ReadBatch{
				agentBatch("agent-1", 1, read("A", time.Date(2009, 5, 1, 0, 0, 0, 0, time.UTC), 10), read("A", time.Now().AddDate(0, 2, 0), 90)),
			},
			want:  []BatchResult{{Stored: 2}},
			reads: 2,
		},
	}
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s := migratedStore(t, d)
					ctx := context.Background()
					if tt.first != nil {
						if _, err := s.SaveBatches(ctx, incoming(tt.first...)); err != nil {
							t.Fatalf("first SaveBatches: %v", err)
						}
					}
					got, err := s.SaveBatches(ctx, incoming(tt.in...))
					if err != nil {
						t.Fatalf("SaveBatches: %v", err)
					}
					if len(got) != len(tt.want) {
						t.Fatalf("results = %+v, want %+v", got, tt.want)
					}
					for i := range got {
						g, w := got[i], tt.want[i]
						if g.Stored != w.Stored || g.Duplicate != w.Duplicate || (g.Err == nil) != (w.Err == nil) ||
							(w.Err != nil && domain.ErrorCode(g.Err) != domain.ErrorCode(w.Err)) {
							t.Errorf("result %d = %+v, want %+v", i, g, w)
						}
					}
					if c := mustCount(t, s); c.Reads != tt.reads {
						t.Errorf("meter reads = %d, want %d", c.Reads, tt.reads)
					}
				})
			}
		})
	}
}

// TestSaveBatchesRegistersDevicesOnce checks that a transaction holding
// several reads of one device creates it once, with first_seen its oldest
// read and its identity from the newest.
func TestSaveBatchesRegistersDevicesOnce(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			s := migratedStore(t, d)
			older, newer := read("A", t0, 10), read("A", t0.Add(time.Hour), 11)
			older.Model, newer.Model = "Old name", "New name"
			newer.Address = "127.0.0.2"
			_, err := s.SaveBatches(context.Background(), incoming(
				agentBatch("agent-1", 2, newer),
				agentBatch("agent-1", 1, older),
			))
			if err != nil {
				t.Fatal(err)
			}
			var rows []struct {
				Model     string    `db:"model"`
				Address   string    `db:"address"`
				FirstSeen time.Time `db:"first_seen"`
				LastSeen  time.Time `db:"last_seen"`
				Account   *int64    `db:"account_id"`
			}
			if err := s.db.Select(&rows, `SELECT model, address, first_seen, last_seen, account_id FROM devices`); err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 {
				t.Fatalf("devices = %+v, want one", rows)
			}
			r := rows[0]
			if r.Model != "New name" || r.Address != "127.0.0.2" || !r.FirstSeen.Equal(t0) || !r.LastSeen.Equal(t0.Add(time.Hour)) || r.Account != nil {
				t.Errorf("device = %+v, want the newest identity, first seen %s, last seen an hour later, no account", r, t0)
			}
		})
	}
}

// TestEnsurePartitions checks that partition upkeep moves the reads the
// default partition took for a month into that month's new partition.
func TestEnsurePartitions(t *testing.T) {
	s := migratedStore(t, dialects[1]) // skips without PostgreSQL
	ctx := context.Background()
	old := time.Date(2019, 7, 14, 12, 0, 0, 0, time.UTC)
	if _, err := s.SaveBatches(ctx, incoming(agentBatch("agent-1", 1, read("A", old, 10)))); err != nil {
		t.Fatal(err)
	}
	partition := func() string {
		var name string
		if err := s.db.Get(&name, `SELECT tableoid::regclass::text FROM meter_reads`); err != nil {
			t.Fatal(err)
		}
		return name
	}
	if got := partition(); got != "meter_reads_default" {
		t.Fatalf("a 2019 read is in %s, want meter_reads_default", got)
	}
	created, err := s.EnsurePartitions(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if created != 2+PartitionMonthsAhead {
		t.Errorf("partitions created = %d, want %d", created, 2+PartitionMonthsAhead)
	}
	if got := partition(); got != "meter_reads_2019_07" {
		t.Errorf("after upkeep the read is in %s, want meter_reads_2019_07", got)
	}
	if again, err := s.EnsurePartitions(ctx, old); err != nil || again != 0 {
		t.Errorf("EnsurePartitions again = %d, %v; want 0, nil", again, err)
	}
	if s.Dialect() != schema.Postgres {
		t.Fatal("not PostgreSQL")
	}
}

func TestSaveStatusKeepsTheOutbox(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			s := migratedStore(t, d)
			ctx := context.Background()
			online := wire.AgentStatus{Schema: 1, AgentID: "agent-1", State: domain.AgentOnline, Version: "1.2.0", OutboxDepth: 42, OutboxDropped: 3}
			offline := wire.AgentStatus{Schema: 1, AgentID: "agent-1", State: domain.AgentOffline}
			for _, st := range []wire.AgentStatus{online, offline} {
				if err := s.SaveStatus(ctx, st); err != nil {
					t.Fatal(err)
				}
			}
			var got struct {
				Online  bool   `db:"online"`
				Version string `db:"version"`
				Depth   int    `db:"outbox_depth"`
				Dropped int64  `db:"outbox_dropped"`
			}
			if err := s.db.Get(&got, `SELECT online, version, outbox_depth, outbox_dropped FROM agents WHERE id = 'agent-1'`); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprint(struct {
				Online  bool
				Version string
				Depth   int
				Dropped int64
			}{false, "1.2.0", 42, 3})
			if fmt.Sprint(got) != want {
				t.Errorf("agent = %v, want %v (offline, the outbox figures of its last status)", got, want)
			}
			n, err := s.AgentsOnline(ctx)
			if err != nil || n != 0 {
				t.Errorf("AgentsOnline = %d, %v; want 0", n, err)
			}
		})
	}
}
