package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// MaxDeadLetterBytes bounds the payload kept of a refused message: every
// payload the decoder reads is kept whole, so that what was refused can be
// looked at and replayed; only one refused as too large is cut.
const MaxDeadLetterBytes = wire.MaxPayloadBytes

// RefusedMessage is a message the collector refused whole.
type RefusedMessage struct {
	Topic   string
	Reason  string
	Payload []byte
	// AgentID is the agent the topic names, "" when it names none.
	AgentID string
	// Seq and BatchKey identify the read batch when the payload says
	// (wire.PeekBatchHead); 0 and "" otherwise.
	Seq      uint64
	BatchKey string
}

// deadLetter is a row of dead_letters.
type deadLetter struct {
	receivedAt  time.Time
	topic       string
	reason      string
	payload     []byte
	agentID     string
	seq         sql.NullInt64
	batchKey    sql.NullString
	readIndex   sql.NullInt64
	fingerprint string
}

// insertDeadLetter keeps a dead letter once: the same fingerprint again
// counts a repeat instead. It reports whether the letter was new.
const insertDeadLetter = `INSERT INTO dead_letters (received_at, topic, reason, payload, agent_id, seq, batch_key, read_index, fingerprint)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (fingerprint) DO UPDATE SET repeats = dead_letters.repeats + 1, last_received_at = excluded.received_at
RETURNING repeats`

func (s *Store) insertDeadLetter(ctx context.Context, q sqlx.QueryerContext, l deadLetter) (repeat bool, err error) {
	if l.payload == nil {
		l.payload = []byte{} // the column is NOT NULL
	}
	var repeats int
	err = q.QueryRowxContext(ctx, s.db.Rebind(insertDeadLetter), l.receivedAt, text(l.topic), text(l.reason), l.payload,
		text(l.agentID), l.seq, l.batchKey, l.readIndex, l.fingerprint).Scan(&repeats)
	if err != nil {
		return false, err
	}
	return repeats > 0, nil
}

// SaveDeadLetter keeps a refused message with the reason it was refused,
// whole (but for a payload over MaxDeadLetterBytes, refused for its size
// and cut). The same payload refused again on the same topic is kept once:
// repeat reports it, and its row counts the repeats.
func (s *Store) SaveDeadLetter(ctx context.Context, m RefusedMessage) (repeat bool, err error) {
	l := deadLetter{
		receivedAt:  dbTime(s.now()),
		topic:       m.Topic,
		reason:      m.Reason,
		payload:     m.Payload,
		agentID:     m.AgentID,
		fingerprint: payloadFingerprint(m.Topic, m.Payload),
	}
	if len(l.payload) > MaxDeadLetterBytes {
		l.payload = l.payload[:MaxDeadLetterBytes]
	}
	if m.Seq != 0 {
		l.seq = sql.NullInt64{Int64: int64(min(m.Seq, 1<<63-1)), Valid: true}
		l.batchKey = sql.NullString{String: text(m.BatchKey), Valid: true}
	}
	repeat, err = s.insertDeadLetter(ctx, s.db, l)
	if err != nil {
		return false, fmt.Errorf("store: save dead letter from %s: %w", m.Topic, err)
	}
	return repeat, nil
}

// deadLetterRefusedReads keeps each read the new batches refused alone as
// a dead letter of its own, whole.
func (s *Store) deadLetterRefusedReads(ctx context.Context, tx *sqlx.Tx, fresh []pendingBatch) error {
	for _, b := range fresh {
		for _, r := range b.refused {
			l := deadLetter{
				receivedAt:  b.receivedAt,
				topic:       topic.For(b.id.agentID, topic.Reads),
				reason:      "invalid read: " + r.Reason,
				payload:     r.Raw,
				agentID:     b.id.agentID,
				seq:         sql.NullInt64{Int64: b.id.seq, Valid: true},
				batchKey:    sql.NullString{String: b.id.key, Valid: true},
				readIndex:   sql.NullInt64{Int64: int64(r.Index), Valid: true},
				fingerprint: readFingerprint(b.id, r.Index),
			}
			if _, err := s.insertDeadLetter(ctx, tx, l); err != nil {
				return fmt.Errorf("dead-letter read %d of batch %d: %w", r.Index, b.id.seq, err)
			}
		}
	}
	return nil
}

// payloadFingerprint identifies a payload refused on a topic.
func payloadFingerprint(topicName string, payload []byte) string {
	h := sha256.New()
	h.Write([]byte(topicName))
	h.Write([]byte{0})
	h.Write(payload)
	return "payload:" + hex.EncodeToString(h.Sum(nil))
}

// readFingerprint identifies a read refused alone: its place in its batch.
func readFingerprint(id batchIdentity, index int) string {
	sum := sha256.Sum256([]byte(id.agentID + "\x00" + strconv.FormatInt(id.seq, 10) + "\x00" + id.key + "\x00" + strconv.Itoa(index)))
	return "read:" + hex.EncodeToString(sum[:])
}

// DeadLetterRetention bounds dead_letters; a zero field keeps no bound of
// its kind. The oldest letters go first.
type DeadLetterRetention struct {
	// MaxAge is how long a letter is kept after it was first received.
	MaxAge time.Duration
	// MaxPerAgent bounds the letters of one agent, so that one broken
	// agent cannot push out the letters of all the others.
	MaxPerAgent int
	// MaxRows bounds the table.
	MaxRows int
}

// PrunedDeadLetters is what PruneDeadLetters removed, by why, and what is
// left.
type PrunedDeadLetters struct {
	Age, AgentCap, Count int
	// Left is how many letters the table holds after pruning.
	Left int
	// Skipped is true when another collector was pruning (PostgreSQL):
	// nothing was removed.
	Skipped bool
}

// pruneLockKey keys the advisory lock of dead letter pruning, beside
// partition upkeep's (7236837, 2) and the migrations' lock.
const pruneLockKey = 3

const (
	pruneByAge = `DELETE FROM dead_letters WHERE received_at < ?`
	// pruneByAgent keeps each agent's newest letters.
	pruneByAgent = `DELETE FROM dead_letters WHERE id IN (
    SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY agent_id ORDER BY id DESC) AS n FROM dead_letters) ranked
    WHERE n > ?)`
	// pruneByCount keeps the newest letters: none goes while the table
	// holds no more than the bound (the subquery is NULL).
	pruneByCount = `DELETE FROM dead_letters WHERE id <= (SELECT id FROM dead_letters ORDER BY id DESC LIMIT 1 OFFSET ?)`
)

// PruneDeadLetters removes the dead letters beyond the retention: older
// than MaxAge, then past each agent's MaxPerAgent, then past MaxRows. On
// PostgreSQL one collector prunes at a time; the others skip.
func (s *Store) PruneDeadLetters(ctx context.Context, keep DeadLetterRetention, now time.Time) (PrunedDeadLetters, error) {
	var p PrunedDeadLetters
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if s.dialect == schema.Postgres {
			var locked bool
			if err := tx.GetContext(ctx, &locked, `SELECT pg_try_advisory_xact_lock(7236837, $1)`, pruneLockKey); err != nil {
				return fmt.Errorf("take the pruning lock: %w", err)
			}
			if !locked {
				p.Skipped = true
				return nil
			}
		}
		steps := []struct {
			on      bool
			removed *int
			query   string
			arg     any
		}{
			{keep.MaxAge > 0, &p.Age, pruneByAge, dbTime(now.Add(-keep.MaxAge))},
			{keep.MaxPerAgent > 0, &p.AgentCap, pruneByAgent, keep.MaxPerAgent},
			{keep.MaxRows > 0, &p.Count, pruneByCount, keep.MaxRows},
		}
		for _, step := range steps {
			if !step.on {
				continue
			}
			res, err := tx.ExecContext(ctx, tx.Rebind(step.query), step.arg)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			*step.removed = int(n)
		}
		return tx.GetContext(ctx, &p.Left, `SELECT COUNT(*) FROM dead_letters`)
	})
	if err != nil {
		return PrunedDeadLetters{}, fmt.Errorf("store: prune dead letters: %w", err)
	}
	return p, nil
}
