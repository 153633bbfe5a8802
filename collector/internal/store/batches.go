package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/wire"
)

// IncomingBatch is a read batch as the collector received it. The agent is
// the batch's AgentID, which ingest has matched with the topic.
type IncomingBatch struct {
	Batch wire.ReadBatch
	// Key is the batch key, wire.ReadBatch.BatchKey of its payload: with
	// the agent and sequence, the batch's identity. Empty means
	// Batch.BatchID.
	Key string
	// Refused lists the reads of the payload refused alone (Batch.Reads
	// holds the others), with their JSON: they are dead-lettered with the
	// batch, once, and remembered with it.
	Refused    []wire.RefusedRead
	ReceivedAt time.Time
}

// BatchResult is what SaveBatches did with one batch.
type BatchResult struct {
	// Stored is how many meter reads the batch added; a read already
	// stored for its device and read time is not added again.
	Stored int
	// Duplicate is true when the batch's (agent, sequence, batch key) was
	// already stored: nothing of it was written.
	Duplicate bool
	// Refused lists the reads refused alone, without their JSON: those
	// given, or for a duplicate those stored with the batch the first
	// time, so that every acknowledgement of a batch says the same.
	Refused []wire.RefusedRead
	// SequenceReused is true when the batch's (agent, sequence) was stored
	// before under another batch key (an agent reinstalled, a clock
	// without battery): the batch is stored all the same, and an event of
	// kind domain.EventBatchSequenceReused raised.
	SequenceReused bool
	// Err, when set, says why the batch can never be stored (domain code
	// EINVALID); the other batches were saved without it.
	Err error
}

// batchKey groups the meter reads of a batch: meter_reads keeps the agent
// and sequence of each read, not the batch key.
type batchKey struct {
	agentID string
	seq     int64
}

// batchIdentity is the idempotency key of a batch.
type batchIdentity struct {
	batchKey
	key string
}

// pendingBatch is a valid batch made ready for the database.
type pendingBatch struct {
	index      int // in the caller's slice
	id         batchIdentity
	reads      int
	receivedAt time.Time
	rows       []readRow
	refused    []wire.RefusedRead
	// refusedJSON is refused without the reads' JSON, for read_batches;
	// NULL when none was refused.
	refusedJSON sql.NullString
}

// SaveBatches stores read batches in one transaction: the batches and
// their agents, the devices they read (created unassigned when unknown),
// the meter reads, and the reads refused alone in dead_letters. Keys make
// it idempotent: a batch whose (agent, sequence, batch key) is already
// stored is a duplicate and writes nothing, and a read already stored for
// the same device and read time is skipped, so a read re-sent in a new
// batch is stored once.
//
// A batch whose data is invalid gets its own BatchResult.Err and is left
// out. The error returned is for the whole transaction: EINVALID when the
// database refused the data of some batch (store them one by one to find
// which), anything else when the database failed and the call is worth
// retrying.
func (s *Store) SaveBatches(ctx context.Context, batches []IncomingBatch) ([]BatchResult, error) {
	results := make([]BatchResult, len(batches))
	pending := make([]pendingBatch, 0, len(batches))
	seen := make(map[batchIdentity]bool, len(batches))
	for i, in := range batches {
		b, err := newPendingBatch(i, in)
		if err != nil {
			results[i].Err = fmt.Errorf("store: batch %d of agent %s: %w", in.Batch.Sequence, text(in.Batch.AgentID), err)
			continue
		}
		if seen[b.id] { // the same batch twice in one call: a re-send
			results[i] = BatchResult{Duplicate: true, Refused: withoutRaw(in.Refused)}
			continue
		}
		seen[b.id] = true
		pending = append(pending, b)
	}
	if len(pending) == 0 {
		return results, nil
	}
	// Every transaction takes its row locks in key order, so concurrent
	// writers (workers, replicas) wait for each other instead of
	// deadlocking.
	slices.SortFunc(pending, func(a, b pendingBatch) int {
		return cmp.Or(cmp.Compare(a.id.agentID, b.id.agentID), cmp.Compare(a.id.seq, b.id.seq), cmp.Compare(a.id.key, b.id.key))
	})

	var stored map[batchKey]int
	var fresh []pendingBatch
	var outcome map[batchIdentity]BatchResult
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if fresh, outcome, err = s.insertBatches(ctx, tx, pending); err != nil {
			return err
		}
		if len(fresh) == 0 {
			return nil
		}
		if err := s.raiseReusedSequences(ctx, tx, fresh, outcome); err != nil {
			return err
		}
		if err := s.deadLetterRefusedReads(ctx, tx, fresh); err != nil {
			return err
		}
		if err := s.upsertAgentsSeen(ctx, tx, fresh); err != nil {
			return err
		}
		if err := s.assignOwners(ctx, tx, fresh); err != nil {
			return err
		}
		storedAt := dbTime(s.now())
		if s.dialect == schema.Postgres {
			stored, err = s.copyReads(ctx, tx, fresh, storedAt)
		} else {
			stored, err = s.insertReads(ctx, tx, fresh, storedAt)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: save %d read batches: %w", len(pending), refused(err))
	}
	for _, b := range pending {
		r := outcome[b.id]
		if !r.Duplicate {
			// Batches sharing an (agent, sequence) in one transaction
			// share its count: the first takes it.
			r.Stored = stored[b.id.batchKey]
			delete(stored, b.id.batchKey)
		}
		results[b.index] = r
	}
	return results, nil
}

// newPendingBatch checks a batch and makes it ready for the database.
func newPendingBatch(index int, in IncomingBatch) (pendingBatch, error) {
	agentID := text(in.Batch.AgentID)
	key := cmp.Or(in.Key, in.Batch.BatchID)
	if key == "" {
		return pendingBatch{}, domain.Errorf(domain.EINVALID, "batch key missing")
	}
	rows, err := batchRows(agentID, in.Batch, in.ReceivedAt)
	if err != nil {
		return pendingBatch{}, err
	}
	b := pendingBatch{
		index:      index,
		id:         batchIdentity{batchKey{agentID, int64(in.Batch.Sequence)}, text(key)}, //nolint:gosec // batchRows refused a sequence above MaxInt64
		reads:      len(in.Batch.Reads),
		receivedAt: dbTime(in.ReceivedAt),
		rows:       rows,
		refused:    in.Refused,
	}
	if len(in.Refused) > 0 {
		list, err := jsonText(withoutRaw(in.Refused))
		if err != nil {
			return pendingBatch{}, err
		}
		b.refusedJSON = sql.NullString{String: list, Valid: true}
	}
	return b, nil
}

// withoutRaw copies the refused reads without their JSON, which only the
// dead letters keep.
func withoutRaw(refused []wire.RefusedRead) []wire.RefusedRead {
	if len(refused) == 0 {
		return nil
	}
	out := make([]wire.RefusedRead, len(refused))
	for i, r := range refused {
		out[i] = wire.RefusedRead{Index: r.Index, Reason: r.Reason}
	}
	return out
}

// storedBatch is a row of read_batches.
type storedBatch struct {
	key     string
	refused []wire.RefusedRead
}

// insertBatches records the batches not stored before and returns them,
// with the outcome of every batch: a duplicate (with the refused reads
// stored the first time), or new, perhaps under a sequence reused.
//
// A batch key ” is a batch stored before keys were: any batch of its
// (agent, sequence) is taken for it.
func (s *Store) insertBatches(ctx context.Context, tx *sqlx.Tx, batches []pendingBatch) ([]pendingBatch, map[batchIdentity]BatchResult, error) {
	before, err := s.storedBatches(ctx, tx, batches)
	if err != nil {
		return nil, nil, err
	}
	outcome := make(map[batchIdentity]BatchResult, len(batches))
	toInsert := make([]pendingBatch, 0, len(batches))
	for _, b := range batches {
		if prior, ok := matchingBatch(before[b.id.batchKey], b.id.key); ok {
			outcome[b.id] = BatchResult{Duplicate: true, Refused: prior.refused}
			continue
		}
		// An earlier batch of this call with the same (agent, sequence)
		// counts as stored before this one.
		outcome[b.id] = BatchResult{Refused: withoutRaw(b.refused), SequenceReused: len(before[b.id.batchKey]) > 0}
		before[b.id.batchKey] = append(before[b.id.batchKey], storedBatch{key: b.id.key})
		toInsert = append(toInsert, b)
	}
	if len(toInsert) == 0 {
		return nil, outcome, nil
	}
	inserted, err := s.insertNewBatches(ctx, tx, toInsert)
	if err != nil {
		return nil, nil, err
	}
	fresh := make([]pendingBatch, 0, len(toInsert))
	var raced []pendingBatch
	for _, b := range toInsert {
		if inserted[b.id] {
			fresh = append(fresh, b)
		} else {
			raced = append(raced, b)
		}
	}
	if len(raced) > 0 {
		// Another writer (a replica given the re-send) stored the batch
		// after our look: it is a duplicate, with what that one stored.
		after, err := s.storedBatches(ctx, tx, raced)
		if err != nil {
			return nil, nil, err
		}
		for _, b := range raced {
			prior, _ := matchingBatch(after[b.id.batchKey], b.id.key)
			outcome[b.id] = BatchResult{Duplicate: true, Refused: prior.refused}
		}
	}
	return fresh, outcome, nil
}

// matchingBatch finds, among the stored batches of an (agent, sequence),
// the one a batch with the key is a re-send of.
func matchingBatch(stored []storedBatch, key string) (storedBatch, bool) {
	for _, sb := range stored {
		if sb.key == key || sb.key == "" {
			return sb, true
		}
	}
	return storedBatch{}, false
}

// storedBatches returns the stored batches of the batches' (agent,
// sequence) pairs.
func (s *Store) storedBatches(ctx context.Context, tx *sqlx.Tx, batches []pendingBatch) (map[batchKey][]storedBatch, error) {
	pairs := make([]batchKey, 0, len(batches))
	for _, b := range batches {
		if n := len(pairs); n == 0 || pairs[n-1] != b.id.batchKey { // batches are sorted
			pairs = append(pairs, b.id.batchKey)
		}
	}
	stored := map[batchKey][]storedBatch{}
	collect := func(rows *sqlx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var k batchKey
			var key string
			var list sql.NullString
			if err := rows.Scan(&k.agentID, &k.seq, &key, &list); err != nil {
				return err
			}
			sb := storedBatch{key: key}
			if list.Valid {
				if err := json.Unmarshal([]byte(list.String), &sb.refused); err != nil {
					return fmt.Errorf("refused reads of batch %d of agent %s: %w", k.seq, k.agentID, err)
				}
			}
			stored[k] = append(stored[k], sb)
		}
		return rows.Err()
	}
	if s.dialect == schema.Postgres {
		agents, seqs := make([]string, len(pairs)), make([]int64, len(pairs))
		for i, p := range pairs {
			agents[i], seqs[i] = p.agentID, p.seq
		}
		rows, err := tx.QueryxContext(ctx, `SELECT b.agent_id, b.seq, b.batch_key, b.refused
FROM read_batches b JOIN unnest($1::text[], $2::bigint[]) AS u(agent_id, seq) ON b.agent_id = u.agent_id AND b.seq = u.seq`,
			pgArray(agents), pgArray(seqs))
		if err == nil {
			err = collect(rows)
		}
		if err != nil {
			return nil, fmt.Errorf("read stored batches: %w", err)
		}
		return stored, nil
	}
	for chunk := range slices.Chunk(pairs, 200) {
		args := make([]any, 0, 2*len(chunk))
		for _, p := range chunk {
			args = append(args, p.agentID, p.seq)
		}
		rows, err := tx.QueryxContext(ctx, `SELECT agent_id, seq, batch_key, refused FROM read_batches
WHERE (agent_id, seq) IN (VALUES `+valuesList(len(chunk), 2)+`)`, args...)
		if err == nil {
			err = collect(rows)
		}
		if err != nil {
			return nil, fmt.Errorf("read stored batches: %w", err)
		}
	}
	return stored, nil
}

// insertNewBatches inserts the batches into read_batches and returns those
// it inserted: one another writer stored meanwhile is left out.
func (s *Store) insertNewBatches(ctx context.Context, tx *sqlx.Tx, batches []pendingBatch) (map[batchIdentity]bool, error) {
	inserted := make(map[batchIdentity]bool, len(batches))
	collect := func(rows *sqlx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var id batchIdentity
			if err := rows.Scan(&id.agentID, &id.seq, &id.key); err != nil {
				return err
			}
			inserted[id] = true
		}
		return rows.Err()
	}
	const conflict = `
ON CONFLICT (agent_id, seq, batch_key) DO NOTHING
RETURNING agent_id, seq, batch_key`
	if s.dialect == schema.Postgres {
		n := len(batches)
		agents, seqs, keys, reads, received, refused := make([]string, n), make([]int64, n), make([]string, n), make([]int64, n), make([]string, n), make([]sql.NullString, n)
		for i, b := range batches {
			agents[i], seqs[i], keys[i], reads[i], received[i], refused[i] = b.id.agentID, b.id.seq, b.id.key, int64(b.reads), pgTime(b.receivedAt), b.refusedJSON
		}
		rows, err := tx.QueryxContext(ctx, `INSERT INTO read_batches (agent_id, seq, batch_key, reads, received_at, refused)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::integer[], $5::timestamptz[], $6::json[])`+conflict,
			pgArray(agents), pgArray(seqs), pgArray(keys), pgArray(reads), pgArray(received), pgArray(refused))
		if err == nil {
			err = collect(rows)
		}
		if err != nil {
			return nil, fmt.Errorf("insert read batches: %w", err)
		}
		return inserted, nil
	}
	for chunk := range slices.Chunk(batches, 200) {
		args := make([]any, 0, 6*len(chunk))
		for _, b := range chunk {
			args = append(args, b.id.agentID, b.id.seq, b.id.key, b.reads, b.receivedAt, b.refusedJSON)
		}
		rows, err := tx.QueryxContext(ctx, `INSERT INTO read_batches (agent_id, seq, batch_key, reads, received_at, refused) VALUES `+
			valuesList(len(chunk), 6)+conflict, args...)
		if err == nil {
			err = collect(rows)
		}
		if err != nil {
			return nil, fmt.Errorf("insert read batches: %w", err)
		}
	}
	return inserted, nil
}

// raiseReusedSequences records an event for each new batch stored under
// an (agent, sequence) another batch key had: the back office sees that
// the agent's sequence started over, and its batches are not taken for
// re-sends of older ones.
func (s *Store) raiseReusedSequences(ctx context.Context, tx *sqlx.Tx, fresh []pendingBatch, outcome map[batchIdentity]BatchResult) error {
	for _, b := range fresh {
		if !outcome[b.id].SequenceReused {
			continue
		}
		e := wire.Event{
			Schema:  wire.SchemaVersion,
			AgentID: b.id.agentID,
			ID:      fmt.Sprintf("batch-sequence-reused/%d/%s", b.id.seq, b.id.key),
			At:      b.receivedAt,
			Kind:    domain.EventBatchSequenceReused,
			Message: fmt.Sprintf("sequence %d was already stored under another batch key; batch %s stored as a new batch", b.id.seq, b.id.key),
		}
		if err := s.insertEvent(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}

// upsertAgentsSeen records that the agents of the batches were heard from,
// creating the agents not known yet.
func (s *Store) upsertAgentsSeen(ctx context.Context, tx *sqlx.Tx, batches []pendingBatch) error {
	// batches are sorted by agent: one row per agent, at its latest batch.
	var ids []string
	var seen []time.Time
	for _, b := range batches {
		if n := len(ids); n > 0 && ids[n-1] == b.id.agentID {
			seen[n-1] = later(seen[n-1], b.receivedAt)
			continue
		}
		ids, seen = append(ids, b.id.agentID), append(seen, b.receivedAt)
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

// assignOwners sets the owner of every read's device (wire.Owner) from
// the account its agent is registered to, read in the transaction that
// stores the reads.
func (s *Store) assignOwners(ctx context.Context, tx *sqlx.Tx, batches []pendingBatch) error {
	var ids []string
	for _, b := range batches { // sorted by agent
		if n := len(ids); n == 0 || ids[n-1] != b.id.agentID {
			ids = append(ids, b.id.agentID)
		}
	}
	accounts := make(map[string]sql.NullInt64, len(ids))
	collect := func(rows *sqlx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var id string
			var account sql.NullInt64
			if err := rows.Scan(&id, &account); err != nil {
				return err
			}
			accounts[id] = account
		}
		return rows.Err()
	}
	if s.dialect == schema.Postgres {
		rows, err := tx.QueryxContext(ctx, `SELECT id, account_id FROM agents WHERE id = ANY($1::text[])`, pgArray(ids))
		if err == nil {
			err = collect(rows)
		}
		if err != nil {
			return fmt.Errorf("read agents' accounts: %w", err)
		}
	} else {
		for chunk := range slices.Chunk(ids, 500) {
			args := make([]any, len(chunk))
			for i, id := range chunk {
				args[i] = id
			}
			rows, err := tx.QueryxContext(ctx, `SELECT id, account_id FROM agents WHERE id IN (`+placeholders(len(chunk))+`)`, args...)
			if err == nil {
				err = collect(rows)
			}
			if err != nil {
				return fmt.Errorf("read agents' accounts: %w", err)
			}
		}
	}
	for _, b := range batches {
		account := accounts[b.id.agentID]
		for i := range b.rows {
			r := &b.rows[i]
			r.owner = wire.Owner(r.key, b.id.agentID, account.Int64)
			r.accountID = account
		}
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// deviceSet is how a device row takes a newer read, the row excluded: it
// keeps its first_seen and takes the identity, address and agent of its
// newest read, and that read's time and counters when it is on time (see
// freshResets); an identity field a read leaves empty keeps its
// stored value (unknown is absent, not blank). deviceNewer is when: a read
// older than the device's last one (an agent replaying its outbox)
// changes nothing, and nor does a read stamped ahead of the collector's
// clock (it comes with a NULL last_read_at), unless the device has no read
// on time yet.
const (
	deviceSet = `
    serial       = COALESCE(NULLIF(excluded.serial, ''), devices.serial),
    mac          = COALESCE(NULLIF(excluded.mac, ''), devices.mac),
    vendor       = COALESCE(NULLIF(excluded.vendor, ''), devices.vendor),
    model        = COALESCE(NULLIF(excluded.model, ''), devices.model),
    firmware     = COALESCE(NULLIF(excluded.firmware, ''), devices.firmware),
    address      = excluded.address,
    agent_id     = excluded.agent_id,
    last_seen    = excluded.last_seen,
    last_read_at = excluded.last_read_at,
    last_total   = excluded.last_total,
    last_black   = excluded.last_black,
    last_colour  = excluded.last_colour`
	deviceNewer = `devices.last_read_at IS NULL OR devices.last_read_at <= excluded.last_read_at`
)
