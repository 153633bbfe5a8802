package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
)

// inTx runs fn in a transaction and commits it, rolling back on error. On
// SQLite the transaction takes the write lock at once (_txlock=immediate,
// see schema.ParseSource), so read-check-write sequences in fn are
// serialised; on PostgreSQL fn locks the rows it checks (forUpdate).
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// forUpdate is the row lock a check-then-write takes on PostgreSQL; SQLite
// has none and needs none (one writer at a time).
func (s *Store) forUpdate() string {
	if s.dialect == schema.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// dbTime is how every time is stored: UTC at PostgreSQL's microsecond
// precision, so both dialects give back the same instant.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// dbDate is a calendar date (contract start and end) as stored: midnight
// UTC of the date t has in UTC.
func dbDate(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// constraint turns a constraint the database enforced into a domain error:
// a duplicate (unique or primary key) is ECONFLICT, a value a CHECK or a
// foreign key refuses is EINVALID. Any other error is returned as is.
func constraint(err error) error {
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		switch pg.SQLState() {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %w", domain.Errorf(domain.ECONFLICT, "already exists"), err)
		case "23503", "23514", "23502": // foreign_key, check, not_null
			return fmt.Errorf("%w: %w", domain.Errorf(domain.EINVALID, "refused by the database: %v", err), err)
		}
		return err
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		const (
			sqliteConstraint           = 19
			sqliteConstraintUnique     = 2067
			sqliteConstraintPrimaryKey = 1555
		)
		switch code := lite.Code(); {
		case code == sqliteConstraintUnique, code == sqliteConstraintPrimaryKey:
			return fmt.Errorf("%w: %w", domain.Errorf(domain.ECONFLICT, "already exists"), err)
		case code&0xff == sqliteConstraint:
			return fmt.Errorf("%w: %w", domain.Errorf(domain.EINVALID, "refused by the database: %v", err), err)
		}
	}
	return err
}

// Actor is who makes a change: a user, or a named part of the system
// ("import", "ingest", "demo"). Exactly one of the two is set.
type Actor struct {
	UserID int64
	System string
}

// ByUser is the actor of a change a user makes.
func ByUser(id int64) Actor { return Actor{UserID: id} }

// BySystem is the actor of a change a part of the system makes.
func BySystem(name string) Actor { return Actor{System: name} }

func (a Actor) check() error {
	if (a.UserID == 0) == (a.System == "") {
		return domain.Errorf(domain.EINVALID, "a change needs exactly one author, a user or a system name")
	}
	return nil
}

func (a Actor) columns() (userID *int64, system *string) {
	if a.UserID != 0 {
		return &a.UserID, nil
	}
	return nil, &a.System
}

// StateChange is one recorded change of a field of an entity.
type StateChange struct {
	ID       int64     `db:"id"`
	Entity   string    `db:"entity"`
	EntityID int64     `db:"entity_id"`
	Field    string    `db:"field"`
	Old      *string   `db:"old_value"`
	New      *string   `db:"new_value"`
	ByUserID *int64    `db:"by_user_id"`
	BySystem *string   `db:"by_system"`
	At       time.Time `db:"at"`
}

// Entities whose changes are recorded.
const (
	EntityDevice   = "device"
	EntityAccount  = "account"
	EntityLocation = "location"
	EntityRequest  = "request"
)

// recordChange writes one state change in tx; old or new nil is NULL.
func (s *Store) recordChange(ctx context.Context, tx *sqlx.Tx, entity string, id int64, field string, old, new *string, by Actor) error {
	userID, system := by.columns()
	_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO state_changes (entity, entity_id, field, old_value, new_value, by_user_id, by_system, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), entity, id, field, old, new, userID, system, dbTime(s.now()))
	if err != nil {
		return fmt.Errorf("record the change of %s %d %s: %w", entity, id, field, constraint(err))
	}
	return nil
}

// StateChanges returns the recorded changes of an entity, oldest first.
func (s *Store) StateChanges(ctx context.Context, entity string, id int64) ([]StateChange, error) {
	var out []StateChange
	err := s.db.SelectContext(ctx, &out, s.db.Rebind(`SELECT id, entity, entity_id, field, old_value, new_value, by_user_id, by_system, at
FROM state_changes WHERE entity = ? AND entity_id = ? ORDER BY at, id`), entity, id)
	if err != nil {
		return nil, fmt.Errorf("store: state changes of %s %d: %w", entity, id, err)
	}
	for i := range out {
		out[i].At = out[i].At.UTC()
	}
	return out, nil
}

func strp(s string) *string { return &s }

// notFound turns sql.ErrNoRows into ENOTFOUND naming what is missing.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", domain.Errorf(domain.ENOTFOUND, format, args...), err)
	}
	return err
}
