package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Agent is an agent as the back office sees it: the account it is
// registered to, if any, and what it last said of itself.
type Agent struct {
	ID string `db:"id"`
	// AccountID and CustomerNumber are nil while the agent is registered
	// to no account.
	AccountID      *int64    `db:"account_id"`
	CustomerNumber *string   `db:"customer_number"`
	Version        string    `db:"version"`
	Online         bool      `db:"online"`
	FirstSeen      time.Time `db:"first_seen"`
	LastSeen       time.Time `db:"last_seen"`
}

// Agents lists the agents by id: those of an account when accountID is
// set, else every agent (index agents_account_id).
func (s *Store) Agents(ctx context.Context, accountID *int64) ([]Agent, error) {
	where, args := "", []any{}
	if accountID != nil {
		where, args = ` WHERE g.account_id = ?`, append(args, *accountID)
	}
	var out []Agent
	err := s.db.SelectContext(ctx, &out, s.db.Rebind(`SELECT g.id, g.account_id, a.customer_number, g.version, g.online, g.first_seen, g.last_seen
FROM agents g LEFT JOIN accounts a ON a.id = g.account_id`+where+` ORDER BY g.id`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list agents: %w", err)
	}
	for i := range out {
		out[i].FirstSeen, out[i].LastSeen = out[i].FirstSeen.UTC(), out[i].LastSeen.UTC()
	}
	return out, nil
}

// Agent returns an agent by id (ENOTFOUND when it is not known).
func (s *Store) Agent(ctx context.Context, id string) (Agent, error) {
	var g Agent
	id = strings.TrimSpace(id)
	err := s.db.GetContext(ctx, &g, s.db.Rebind(`SELECT g.id, g.account_id, a.customer_number, g.version, g.online, g.first_seen, g.last_seen
FROM agents g LEFT JOIN accounts a ON a.id = g.account_id WHERE g.id = ?`), id)
	if err != nil {
		return Agent{}, fmt.Errorf("store: agent %s: %w", id, notFound(err, "agent %s is not known", id))
	}
	g.FirstSeen, g.LastSeen = g.FirstSeen.UTC(), g.LastSeen.UTC()
	return g, nil
}
