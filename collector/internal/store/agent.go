package store

import (
	"context"
	"fmt"
	"math"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// upsertAgentStatus records an agent's status. Statuses are applied in the
// order they arrive: the Last Will carries the time the agent connected,
// not the time it went away, so its own time cannot order it.
const upsertAgentStatus = `INSERT INTO agents (id, version, online, first_seen, last_seen, status, status_at, outbox_depth, outbox_dropped)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    version        = COALESCE(NULLIF(excluded.version, ''), agents.version),
    online         = excluded.online,
    last_seen      = excluded.last_seen,
    status         = excluded.status,
    status_at      = excluded.status_at,
    outbox_depth   = CASE WHEN excluded.online THEN excluded.outbox_depth ELSE agents.outbox_depth END,
    outbox_dropped = CASE WHEN excluded.online THEN excluded.outbox_dropped ELSE agents.outbox_dropped END`

// SaveStatus records an agent's status: online or not, its version, its
// outbox (depth, batches dropped), the status itself, and that it was
// heard from now. A Last Will (offline) carries no outbox figures: the last
// ones known are kept.
func (s *Store) SaveStatus(ctx context.Context, status wire.AgentStatus) error {
	body, err := jsonText(status)
	if err != nil {
		return fmt.Errorf("store: save status of agent %s: %w", status.AgentID, err)
	}
	now := dbTime(s.now())
	_, err = s.db.ExecContext(ctx, s.db.Rebind(upsertAgentStatus),
		text(status.AgentID), text(status.Version), status.State == domain.AgentOnline, now, now, body,
		now, status.OutboxDepth, int64(min(status.OutboxDropped, math.MaxInt64)))
	if err != nil {
		return fmt.Errorf("store: save status of agent %s: %w", status.AgentID, refused(err))
	}
	return nil
}
