package store

import (
	"context"
	"fmt"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// upsertAgentStatus records an agent's status. Statuses are applied in the
// order they arrive: the Last Will carries the time the agent connected,
// not the time it went away, so its own time cannot order it.
const upsertAgentStatus = `INSERT INTO agents (id, version, online, first_seen, last_seen, status)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    version   = COALESCE(NULLIF(excluded.version, ''), agents.version),
    online    = excluded.online,
    last_seen = excluded.last_seen,
    status    = excluded.status`

// SaveStatus records an agent's status: online or not, its version, the
// status itself, and that it was heard from now.
func (s *Store) SaveStatus(ctx context.Context, status wire.AgentStatus) error {
	body, err := jsonText(status)
	if err != nil {
		return fmt.Errorf("store: save status of agent %s: %w", status.AgentID, err)
	}
	now := dbTime(s.now())
	_, err = s.db.ExecContext(ctx, s.db.Rebind(upsertAgentStatus),
		text(status.AgentID), text(status.Version), status.State == domain.AgentOnline, now, now, body)
	if err != nil {
		return fmt.Errorf("store: save status of agent %s: %w", status.AgentID, refused(err))
	}
	return nil
}
