package store

import (
	"context"
	"fmt"
)

// MaxDeadLetterBytes bounds the payload kept of a refused message: enough
// to see what was wrong, not a way to fill the disk.
const MaxDeadLetterBytes = 64 << 10

const insertDeadLetter = `INSERT INTO dead_letters (received_at, topic, reason, payload)
VALUES (?, ?, ?, ?)`

// SaveDeadLetter keeps a refused message with the reason it was refused.
// Payloads over MaxDeadLetterBytes are truncated.
func (s *Store) SaveDeadLetter(ctx context.Context, topic, reason string, payload []byte) error {
	if len(payload) > MaxDeadLetterBytes {
		payload = payload[:MaxDeadLetterBytes]
	}
	if payload == nil {
		payload = []byte{} // the column is NOT NULL
	}
	_, err := s.db.ExecContext(ctx, s.db.Rebind(insertDeadLetter), dbTime(s.now()), text(topic), text(reason), payload)
	if err != nil {
		return fmt.Errorf("store: save dead letter from %s: %w", topic, err)
	}
	return nil
}
