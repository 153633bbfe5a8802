package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// AssignAgent is RegisterAgent by the system's "registration".
func (s *Store) AssignAgent(ctx context.Context, agentID string, accountID int64) error {
	return s.RegisterAgent(ctx, agentID, accountID, BySystem("registration"))
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
		if err := checkPut(ctx, tx, &d); err != nil {
			return err
		}
		var n int
		if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT count(*) FROM devices WHERE owner = ? AND device_key = ?`),
			wire.AccountOwner(d.AccountID), d.Key); err != nil {
			return err
		}
		if n > 0 {
			return domain.Errorf(domain.ECONFLICT, "account %d already has serial %s", d.AccountID, d.Serial)
		}
		if err := s.insertDevice(ctx, tx, &d); err != nil {
			return err
		}
		return s.recordDevicePut(ctx, tx, &d, deviceBeforePut{}, by)
	})
	if err != nil {
		return ContractedDevice{}, fmt.Errorf("store: put serial %s under contract %d: %w", d.Serial, d.ContractID, err)
	}
	return d, nil
}
