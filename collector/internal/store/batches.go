package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/wire"
)

// IncomingBatch is a read batch as the collector received it. The agent is
// the batch's AgentID, which ingest has matched with the topic.
type IncomingBatch struct {
	Batch      wire.ReadBatch
	ReceivedAt time.Time
}

// BatchResult is what SaveBatches did with one batch.
type BatchResult struct {
	// Stored is how many meter reads the batch added; a read already
	// stored for its device and read time is not added again.
	Stored int
	// Duplicate is true when the batch's (agent, sequence) was already
	// stored: nothing of it was written.
	Duplicate bool
	// Err, when set, says why the batch can never be stored (domain code
	// EINVALID); the other batches were saved without it.
	Err error
}

// batchKey is the idempotency key of a batch.
type batchKey struct {
	agentID string
	seq     int64
}

// pendingBatch is a valid batch made ready for the database.
type pendingBatch struct {
	index      int // in the caller's slice
	key        batchKey
	reads      int
	receivedAt time.Time
	rows       []readRow
}

// SaveBatches stores read batches in one transaction: the batches and
// their agents, the devices they read (created unassigned when unknown),
// and the meter reads. Keys make it idempotent: a batch whose (agent,
// sequence) is already stored is a duplicate and writes nothing, and a
// read already stored for the same device and read time is skipped, so a
// read re-sent in a new batch is stored once.
//
// A batch whose data is invalid gets its own BatchResult.Err and is left
// out. The error returned is for the whole transaction: EINVALID when the
// database refused the data of some batch (store them one by one to find
// which), anything else when the database failed and the call is worth
// retrying.
func (s *Store) SaveBatches(ctx context.Context, batches []IncomingBatch) ([]BatchResult, error) {
	results := make([]BatchResult, len(batches))
	pending := make([]pendingBatch, 0, len(batches))
	seen := make(map[batchKey]bool, len(batches))
	for i, in := range batches {
		agentID := text(in.Batch.AgentID)
		rows, err := batchRows(agentID, in.Batch, in.ReceivedAt)
		if err != nil {
			results[i].Err = fmt.Errorf("store: batch %d of agent %s: %w", in.Batch.Sequence, agentID, err)
			continue
		}
		key := batchKey{agentID: agentID, seq: int64(in.Batch.Sequence)}
		if seen[key] { // the same batch twice in one call: a re-send
			results[i].Duplicate = true
			continue
		}
		seen[key] = true
		pending = append(pending, pendingBatch{index: i, key: key, reads: len(in.Batch.Reads), receivedAt: dbTime(in.ReceivedAt), rows: rows})
	}
	if len(pending) == 0 {
		return results, nil
	}
	// Every transaction takes its row locks in key order, so concurrent
	// writers (workers, replicas) wait for each other instead of
	// deadlocking.
	slices.SortFunc(pending, func(a, b pendingBatch) int {
		return cmp.Or(cmp.Compare(a.key.agentID, b.key.agentID), cmp.Compare(a.key.seq, b.key.seq))
	})

	var stored map[batchKey]int
	var fresh map[batchKey]bool
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if fresh, err = s.insertBatches(ctx, tx, pending); err != nil {
			return err
		}
		newBatches := make([]pendingBatch, 0, len(fresh))
		for _, b := range pending {
			if fresh[b.key] {
				newBatches = append(newBatches, b)
			}
		}
		if len(newBatches) == 0 {
			return nil
		}
		if err := s.upsertAgentsSeen(ctx, tx, newBatches); err != nil {
			return err
		}
		storedAt := dbTime(s.now())
		if s.dialect == schema.Postgres {
			stored, err = s.copyReads(ctx, tx, newBatches, storedAt)
		} else {
			stored, err = s.insertReads(ctx, tx, newBatches, storedAt)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: save %d read batches: %w", len(pending), refused(err))
	}
	for _, b := range pending {
		if fresh[b.key] {
			results[b.index].Stored = stored[b.key]
		} else {
			results[b.index].Duplicate = true
		}
	}
	return results, nil
}

// insertBatches records the batches and returns those that were not
// stored before.
func (s *Store) insertBatches(ctx context.Context, tx *sqlx.Tx, batches []pendingBatch) (map[batchKey]bool, error) {
	fresh := make(map[batchKey]bool, len(batches))
	collect := func(rows *sqlx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var k batchKey
			if err := rows.Scan(&k.agentID, &k.seq); err != nil {
				return err
			}
			fresh[k] = true
		}
		return rows.Err()
	}
	if s.dialect == schema.Postgres {
		agents, seqs, reads, received := make([]string, len(batches)), make([]int64, len(batches)), make([]int64, len(batches)), make([]string, len(batches))
		for i, b := range batches {
			agents[i], seqs[i], reads[i], received[i] = b.key.agentID, b.key.seq, int64(b.reads), pgTime(b.receivedAt)
		}
		rows, err := tx.QueryxContext(ctx, `INSERT INTO read_batches (agent_id, seq, reads, received_at)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::timestamptz[])
ON CONFLICT (agent_id, seq) DO NOTHING
RETURNING agent_id, seq`, pgArray(agents), pgArray(seqs), pgArray(reads), pgArray(received))
		if err == nil {
			err = collect(rows)
		}
		if err != nil {
			return nil, fmt.Errorf("insert read batches: %w", err)
		}
		return fresh, nil
	}
	for chunk := range slices.Chunk(batches, 200) {
		args := make([]any, 0, 4*len(chunk))
		for _, b := range chunk {
			args = append(args, b.key.agentID, b.key.seq, b.reads, b.receivedAt)
		}
		rows, err := tx.QueryxContext(ctx, `INSERT INTO read_batches (agent_id, seq, reads, received_at) VALUES `+
			valuesList(len(chunk), 4)+`
ON CONFLICT (agent_id, seq) DO NOTHING
RETURNING agent_id, seq`, args...)
		if err == nil {
			err = collect(rows)
		}
		if err != nil {
			return nil, fmt.Errorf("insert read batches: %w", err)
		}
	}
	return fresh, nil
}

// upsertAgentsSeen records that the agents of the batches were heard from,
// creating the agents not known yet.
func (s *Store) upsertAgentsSeen(ctx context.Context, tx *sqlx.Tx, batches []pendingBatch) error {
	// batches are sorted by agent: one row per agent, at its latest batch.
	var ids []string
	var seen []time.Time
	for _, b := range batches {
		if n := len(ids); n > 0 && ids[n-1] == b.key.agentID {
			seen[n-1] = later(seen[n-1], b.receivedAt)
			continue
		}
		ids, seen = append(ids, b.key.agentID), append(seen, b.receivedAt)
	}
	const conflict = `
ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen
WHERE agents.last_seen < excluded.last_seen`
	var err error
	if s.dialect == schema.Postgres {
		times := make([]string, len(seen))
		for i, t := range seen {
			times[i] = pgTime(t)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO agents (id, first_seen, last_seen)
SELECT id, seen, seen FROM unnest($1::text[], $2::timestamptz[]) AS u(id, seen)`+conflict,
			pgArray(ids), pgArray(times))
	} else {
		for i := 0; i < len(ids) && err == nil; i += 300 {
			n := min(300, len(ids)-i)
			args := make([]any, 0, 3*n)
			for j := i; j < i+n; j++ {
				args = append(args, ids[j], seen[j], seen[j])
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO agents (id, first_seen, last_seen) VALUES `+valuesList(n, 3)+conflict, args...)
		}
	}
	if err != nil {
		return fmt.Errorf("upsert agents: %w", err)
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// deviceUpdate is how a device row takes a newer read: it keeps its
// first_seen and takes the identity, address and agent of its newest read;
// an identity field a read leaves empty keeps its stored value (unknown is
// absent, not blank). A read older than the device's last one (an agent
// replaying its outbox) changes nothing, and nor does a read stamped ahead
// of the collector's clock (it comes with a NULL last_read_at), unless the
// device has no read on time yet.
const deviceUpdate = `
ON CONFLICT (device_key) DO UPDATE SET
    serial       = COALESCE(NULLIF(excluded.serial, ''), devices.serial),
    mac          = COALESCE(NULLIF(excluded.mac, ''), devices.mac),
    vendor       = COALESCE(NULLIF(excluded.vendor, ''), devices.vendor),
    model        = COALESCE(NULLIF(excluded.model, ''), devices.model),
    firmware     = COALESCE(NULLIF(excluded.firmware, ''), devices.firmware),
    address      = excluded.address,
    agent_id     = excluded.agent_id,
    last_seen    = excluded.last_seen,
    last_read_at = excluded.last_read_at
WHERE devices.last_read_at IS NULL OR devices.last_read_at <= excluded.last_read_at`
