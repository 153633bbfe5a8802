package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// PollRequest is an extra read the back office asked of an agent through
// the portal (poll_requests, schema 0015): the collector publishes the
// agent's poll_now command.
type PollRequest struct {
	ID          int64     `db:"id"`
	DeviceID    int64     `db:"device_id"`
	AgentID     string    `db:"agent_id"`
	RequestedAt time.Time `db:"requested_at"`
}

// ClaimPollRequests marks up to limit unsent requests sent, oldest first,
// and returns them: the caller publishes their commands, and gives back
// (UnclaimPollRequest) one it could not. Replicas claiming at once share
// them out: a row is claimed by one statement (on PostgreSQL the second
// finds sent_at set once the first commits; SQLite has one writer).
func (s *Store) ClaimPollRequests(ctx context.Context, limit int) ([]PollRequest, error) {
	var out []PollRequest
	err := s.db.SelectContext(ctx, &out, s.db.Rebind(`UPDATE poll_requests SET sent_at = ?
WHERE sent_at IS NULL AND id IN (SELECT id FROM poll_requests WHERE sent_at IS NULL ORDER BY requested_at, id LIMIT ?)
RETURNING id, device_id, agent_id, requested_at`), dbTime(s.now()), limit)
	if err != nil {
		return nil, fmt.Errorf("store: claim poll requests: %w", err)
	}
	// RETURNING keeps no order.
	slices.SortFunc(out, func(a, b PollRequest) int {
		return cmp.Or(a.RequestedAt.Compare(b.RequestedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// UnclaimPollRequest makes a claimed request unsent again, to be claimed
// by a later round.
func (s *Store) UnclaimPollRequest(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE poll_requests SET sent_at = NULL WHERE id = ?`), id); err != nil {
		return fmt.Errorf("store: unclaim poll request %d: %w", id, err)
	}
	return nil
}
