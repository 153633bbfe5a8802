// Package store is the collector's database: it opens PostgreSQL or the
// embedded SQLite file named by a URL, applies the shared schema, and writes
// what the agents send. Every statement is written once, with '?'
// placeholders rebound for the dialect, and runs on both.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"  // PostgreSQL driver "postgres"
	_ "modernc.org/sqlite" // pure-Go SQLite driver "sqlite"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
)

// Store is the collector's handle on its database. It is safe for
// concurrent use.
type Store struct {
	db      *sqlx.DB
	dialect schema.Dialect
	logger  *slog.Logger
	// now is the clock for stored_at and received_at; tests replace it.
	now func() time.Time
}

// PostgreSQL pool size: enough for the ingest workers and a few readers.
const postgresMaxConns = 16

// Open connects to the database the URL names (see schema.ParseSource) and
// checks that it answers. It does not migrate.
func Open(ctx context.Context, rawURL string, logger *slog.Logger) (*Store, error) {
	src, err := schema.ParseSource(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// sqlx knows the driver name "sqlite3" but not modernc's "sqlite".
	sqlx.BindDriver(schema.DriverSQLite, sqlx.QUESTION)

	db, err := sqlx.Open(src.Driver, src.DSN)
	if err != nil {
		return nil, fmt.Errorf("store: open %s database: %w", src.Dialect, err)
	}
	switch src.Dialect {
	case schema.SQLite:
		// SQLite has one writer at a time (WAL lets readers run beside it).
		// One connection makes writers queue in Go instead of failing with
		// SQLITE_BUSY, and keeps an in-memory database a single database.
		db.SetMaxOpenConns(1)
	case schema.Postgres:
		db.SetMaxOpenConns(postgresMaxConns)
		db.SetMaxIdleConns(postgresMaxConns)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to %s database: %w", src.Dialect, err)
	}
	return &Store{db: db, dialect: src.Dialect, logger: logger, now: time.Now}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: %s database does not answer: %w", s.dialect, err)
	}
	return nil
}

// Dialect says which database the store is on.
func (s *Store) Dialect() schema.Dialect { return s.dialect }

// Migrate applies the pending migrations and returns their names.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	applied, err := schema.Migrate(ctx, s.db.DB, s.dialect)
	for _, name := range applied {
		s.logger.Info("migration applied", "migration", name, "dialect", string(s.dialect))
	}
	if err != nil {
		return applied, fmt.Errorf("store: migrate: %w", err)
	}
	return applied, nil
}

// CheckSchema returns nil when the schema is the one this binary expects,
// and an error wrapping schema.ErrBehind when migrations are pending.
func (s *Store) CheckSchema(ctx context.Context) error {
	if err := schema.Check(ctx, s.db.DB, s.dialect); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Prepare gets the schema ready for the collector to start (see
// schema.Prepare): migrated on SQLite, checked on PostgreSQL.
func (s *Store) Prepare(ctx context.Context) error {
	return schema.Prepare(ctx, s.db.DB, s.dialect, s.logger)
}

// inTx runs fn in a transaction and commits it, rolling back on error.
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

// dbTime is how every time is stored: UTC, at the microsecond precision of
// PostgreSQL, so both dialects store the same instant and the same read
// time compares equal when an agent re-sends it.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// refused turns an error the database raises because of the data itself
// (not because it is unwell) into a domain EINVALID error: retrying it can
// never succeed, so ingest sets the payload aside instead.
func refused(err error) error {
	if err == nil {
		return nil
	}
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		switch state := pg.SQLState(); {
		case strings.HasPrefix(state, "22"), // data exception: a value a column cannot hold
			strings.HasPrefix(state, "54"): // program limit exceeded: e.g. a key too long for its index
			return domain.Errorf(domain.EINVALID, "the database refused the data: %v", err)
		}
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		const sqliteTooBig, sqliteMismatch = 18, 20
		switch lite.Code() & 0xff { // the primary result code
		case sqliteTooBig, sqliteMismatch:
			return domain.Errorf(domain.EINVALID, "the database refused the data: %v", err)
		}
	}
	return err
}
