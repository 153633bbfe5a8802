package store

import (
	"context"
	"fmt"
)

// AgentsOnline counts the agents whose last status said online: the
// agents_online gauge. The Last Will turns an agent that vanished offline.
func (s *Store) AgentsOnline(ctx context.Context) (int, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM agents WHERE online`); err != nil {
		return 0, fmt.Errorf("store: count agents online: %w", err)
	}
	return n, nil
}
