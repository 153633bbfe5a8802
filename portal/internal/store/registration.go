package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/ownership"
)

// FieldAgent is the state_changes field of an account that records an
// agent registered to it (new value) or moved away from it (old value).
const FieldAgent = "agent"

// RegisterAgent registers an agent to an account (agents.account_id), or
// moves it to another, so that the devices it reads attach to the
// account's, and gives the account the devices the agent read before
// (ownership.MoveAgentDevices: its serial devices become the account's,
// merged into the account's device of the same serial when there is one;
// its other devices stay its own). All in one transaction, every change
// recorded with by. The agent need not have reported yet: its row is
// created, the collector fills in the rest. Registering it again to the
// same account changes nothing.
func (s *Store) RegisterAgent(ctx context.Context, agentID string, accountID int64, by Actor) error {
	agentID = strings.TrimSpace(agentID)
	if agentID == "" {
		return domain.Errorf(domain.EINVALID, "an agent needs an id")
	}
	if err := by.check(); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error { return s.registerAgent(ctx, tx, agentID, accountID, by) })
	if err != nil {
		return fmt.Errorf("store: register agent %s to account %d: %w", agentID, accountID, err)
	}
	return nil
}

// registerAgent is RegisterAgent in tx, the agent id trimmed and not
// empty: the one place an agent is registered to an account, which the CSV
// import of agents runs too.
func (s *Store) registerAgent(ctx context.Context, tx *sqlx.Tx, agentID string, accountID int64, by Actor) error {
	if err := accountExists(ctx, tx, accountID); err != nil {
		return err
	}
	old, err := s.setAgentAccount(ctx, tx, agentID, accountID)
	if err != nil {
		return err
	}
	if !old.Valid || old.Int64 != accountID {
		if old.Valid {
			if err := s.recordChange(ctx, tx, EntityAccount, old.Int64, FieldAgent, &agentID, nil, by); err != nil {
				return err
			}
		}
		if err := s.recordChange(ctx, tx, EntityAccount, accountID, FieldAgent, nil, &agentID, by); err != nil {
			return err
		}
	}
	changes, err := ownership.MoveAgentDevices(ctx, tx, s.dialect, agentID, accountID, dbTime(s.now()))
	if err != nil {
		return err
	}
	for _, c := range changes {
		if err := s.recordChange(ctx, tx, EntityDevice, c.DeviceID, c.Field, c.Old, c.New, by); err != nil {
			return err
		}
	}
	return nil
}

// setAgentAccount sets the agent's account, creating the agent when it is
// not known, and returns the account it had. The agent's row is locked
// first: a batch of the agent's that the collector stores meanwhile waits
// for the commit (its agent upsert takes the same row lock) and then reads
// the new account, so none of its devices escapes the move.
func (s *Store) setAgentAccount(ctx context.Context, tx *sqlx.Tx, agentID string, accountID int64) (sql.NullInt64, error) {
	var old sql.NullInt64
	err := tx.GetContext(ctx, &old, tx.Rebind(`SELECT account_id FROM agents WHERE id = ?`+s.forUpdate()), agentID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return old, fmt.Errorf("read agent %s: %w", agentID, err)
	}
	now := dbTime(s.now())
	_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO agents (id, first_seen, last_seen, account_id) VALUES (?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id`), agentID, now, now, accountID)
	if err != nil {
		return old, fmt.Errorf("set the account of agent %s: %w", agentID, constraint(err))
	}
	return old, nil
}
