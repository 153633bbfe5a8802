package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// AssignAgent is RegisterAgent by the system's "registration".
func (s *Store) AssignAgent(ctx context.Context, agentID string, accountID int64) error {
	return s.RegisterAgent(ctx, agentID, accountID, BySystem("registration"))
}

// FieldAgent is the state_changes field of an account that records an
// agent registered to it (new value) or moved away from it (old value).
const FieldAgent = "agent"

// RegisterAgent registers an agent to an account (agents.account_id), or
// moves it to another, so that the devices it reads attach to the
// account's; the change is recorded with by. The agent need not have
// reported yet: its row is created, the collector fills in the rest.
// Registering it again to the same account changes nothing.
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
	var old sql.NullInt64
	err := tx.GetContext(ctx, &old, tx.Rebind(`SELECT account_id FROM agents WHERE id = ?`+s.forUpdate()), agentID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read agent %s: %w", agentID, err)
	}
	if old.Valid && old.Int64 == accountID {
		return nil
	}
	now := dbTime(s.now())
	_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO agents (id, first_seen, last_seen, account_id) VALUES (?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id`), agentID, now, now, accountID)
	if err != nil {
		return fmt.Errorf("set the account of agent %s: %w", agentID, constraint(err))
	}
	if old.Valid {
		if err := s.recordChange(ctx, tx, EntityAccount, old.Int64, FieldAgent, &agentID, nil, by); err != nil {
			return err
		}
	}
	return s.recordChange(ctx, tx, EntityAccount, accountID, FieldAgent, nil, &agentID, by)
}

// AgentAccount is the account an agent is registered to, nil when none
// (ENOTFOUND when the agent is not known).
func (s *Store) AgentAccount(ctx context.Context, agentID string) (*int64, error) {
	var id *int64
	if err := s.db.GetContext(ctx, &id, s.db.Rebind(`SELECT account_id FROM agents WHERE id = ?`), agentID); err != nil {
		return nil, fmt.Errorf("store: agent %s: %w", agentID, notFound(err, "agent %s is not known", agentID))
	}
	return id, nil
}

// PutConflictingDeviceUnderContract is PutDeviceUnderContract for a serial
// another account already has: it stores a second device of the serial,
// the account's, which is the conflict the back office lists (migration
// 0008). Demo data uses it to show one; a serial the account already has
// is ECONFLICT.
func (s *Store) PutConflictingDeviceUnderContract(ctx context.Context, d ContractedDevice, by Actor) (ContractedDevice, error) {
	if err := d.prepare(by); err != nil {
		return ContractedDevice{}, err
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &d.AccountID, tx.Rebind(`SELECT account_id FROM contracts WHERE id = ?`), d.ContractID); err != nil {
			return notFound(err, "contract %d does not exist", d.ContractID)
		}
		var n int
		if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT count(*) FROM devices WHERE owner = ? AND device_key = ?`),
			wire.AccountOwner(d.AccountID), d.Key); err != nil {
			return err
		}
		if n > 0 {
			return domain.Errorf(domain.ECONFLICT, "account %d already has serial %s", d.AccountID, d.Serial)
		}
		if d.LocationID != nil {
			var account int64
			if err := tx.GetContext(ctx, &account, tx.Rebind(`SELECT account_id FROM shipping_locations WHERE id = ?`), *d.LocationID); err != nil {
				return notFound(err, "location %d does not exist", *d.LocationID)
			}
			if account != d.AccountID {
				return domain.Errorf(domain.EINVALID, "location %d is not a location of account %d", *d.LocationID, d.AccountID)
			}
		}
		if err := s.insertDevice(ctx, tx, &d); err != nil {
			return err
		}
		return s.recordDevicePut(ctx, tx, &d, by)
	})
	if err != nil {
		return ContractedDevice{}, fmt.Errorf("store: put serial %s under contract %d: %w", d.Serial, d.ContractID, err)
	}
	return d, nil
}
