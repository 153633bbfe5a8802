// Package ownership is the SQL of device ownership (issue 14) that both the
// collector and the portal run: the serial conflicts the back office
// reviews, and the move of an agent's devices to the account it is
// registered to. wire.Owner says who owns the device a read is of; this
// package keeps the devices table true to it when an agent's account
// changes. It runs on database/sql (callers pass their handle or
// transaction) and imports no driver.
package ownership

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/meterline/meterline/shared/schema"
)

// Queryer runs a query: a *sql.DB, *sql.Tx, or their sqlx wrappers.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Tx is the transaction a move runs in: a *sql.Tx or *sqlx.Tx.
type Tx interface {
	Queryer
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// SerialConflict is a device of a serial that devices of other accounts
// have too: ingest keeps one device per account (wire.Owner), never
// merging them, and the back office decides whose the printer is.
type SerialConflict struct {
	DeviceKey      string
	DeviceID       int64
	AccountID      int64
	CustomerNumber string
	Serial         string
	Model          string
	// State is the device's state: unconfirmed (an account's agent
	// reported it), active, pending_removal or removed (under contract).
	State sql.NullString
	// AgentID is the agent that read the device last, if any.
	AgentID    sql.NullString
	ContractID sql.NullInt64
	FirstSeen  sql.NullTime
	LastReadAt sql.NullTime
}

// serialConflicts lists the devices of a serial two or more accounts
// have: a device the back office rejected is no longer a claim on its
// serial. Index devices_device_key.
const serialConflicts = `SELECT d.device_key, d.id, d.account_id, a.customer_number, d.serial, d.model,
       d.state, d.agent_id, d.contract_id, d.first_seen, d.last_read_at
FROM devices d JOIN accounts a ON a.id = d.account_id
WHERE (d.state IS NULL OR d.state <> 'rejected') AND d.device_key IN (
    SELECT device_key FROM devices
    WHERE account_id IS NOT NULL AND device_key LIKE 'sn:%' AND (state IS NULL OR state <> 'rejected')
    GROUP BY device_key HAVING count(DISTINCT account_id) > 1)
ORDER BY d.device_key, d.account_id, d.id`

// SerialConflicts lists the devices whose serial two or more accounts
// have, by serial key, account and device.
func SerialConflicts(ctx context.Context, q Queryer) ([]SerialConflict, error) {
	rows, err := q.QueryContext(ctx, serialConflicts)
	if err != nil {
		return nil, fmt.Errorf("serial conflicts: %w", err)
	}
	defer rows.Close()
	var out []SerialConflict
	for rows.Next() {
		var c SerialConflict
		if err := rows.Scan(&c.DeviceKey, &c.DeviceID, &c.AccountID, &c.CustomerNumber, &c.Serial, &c.Model,
			&c.State, &c.AgentID, &c.ContractID, &c.FirstSeen, &c.LastReadAt); err != nil {
			return nil, fmt.Errorf("serial conflicts: %w", err)
		}
		c.FirstSeen.Time, c.LastReadAt.Time = c.FirstSeen.Time.UTC(), c.LastReadAt.Time.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("serial conflicts: %w", err)
	}
	return out, nil
}

// forUpdate is the row lock of a read-then-write on PostgreSQL; SQLite has
// one writer at a time and needs none.
func forUpdate(d schema.Dialect) string {
	if d == schema.Postgres {
		return " FOR UPDATE"
	}
	return ""
}
