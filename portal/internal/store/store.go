// Package store is the portal's access to the Meterline database: it opens
// PostgreSQL or the embedded SQLite file, makes sure the schema is the one
// this binary expects, and holds the queries the portal runs, each next to
// the code that reads its rows. Nothing here knows about HTTP.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"  // registers the "postgres" driver
	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go)

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
)

func init() {
	// sqlx knows "sqlite3" (cgo) but not the pure-Go driver's name; without
	// this, Rebind would leave "?" alone on SQLite only by accident.
	sqlx.BindDriver(schema.DriverSQLite, sqlx.QUESTION)
}

// Connection pool bounds.
const (
	maxOpenConns = 10
	maxIdleConns = maxOpenConns
)

// Store reads and writes the portal's data.
type Store struct {
	db      *sqlx.DB
	dialect schema.Dialect
	// now is the clock of created_at and of the audit; tests replace it.
	now func() time.Time
	// outbox enqueues the e-mails a change causes, in the change's
	// transaction, on the store's clock.
	outbox *mail.Outbox
	// billing is how billing reads are chosen, campaigns run and
	// estimates made (SetBillingConfig).
	billing billing.Config
	// stmts are the statements prepared once (prepared.go), by query.
	stmts sync.Map
	// supplies are the latest reads' supply levels as last decoded.
	supplies suppliesMemo
}

// Open connects to the database rawURL names (see schema.ParseSource) and
// checks its schema.
//
// On PostgreSQL the schema belongs to the collector: when it is behind,
// Open fails with an error wrapping schema.ErrBehind that says to run
// `meterline-collector -migrate`. On the embedded SQLite default, a single
// box's first run must just work, so Open creates the file and its folder
// and applies the migrations itself (they are idempotent; the collector
// does the same). Migrations applied are logged to logger.
func Open(ctx context.Context, rawURL string, logger *slog.Logger) (*Store, error) {
	src, err := schema.ParseSource(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if src.Dialect == schema.SQLite {
		if err := makeFolder(src.Path); err != nil {
			return nil, err
		}
	}
	// On SQLite the DSN is synchronous FULL, as for the collector (see
	// schema.ParseSource). The portal only reads (and migrates a new
	// file), and a read never syncs, so it keeps that rather than a
	// weaker setting of its own.
	db, err := sqlx.Open(src.Driver, src.DSN)
	if err != nil {
		return nil, fmt.Errorf("store: open %s database: %w", src.Dialect, err)
	}
	// A portal serves pages, not batch jobs: a few connections suffice, and
	// idle ones are given back so the collector keeps its share.
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, dialect: src.Dialect, now: time.Now, billing: billing.DefaultConfig()}
	// The outbox reads the store's clock, so a test that moves one moves both.
	if s.outbox, err = mail.NewOutbox(src.Dialect, func() time.Time { return s.now() }); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to %s database: %w", src.Dialect, err)
	}
	if err := schema.Prepare(ctx, db.DB, src.Dialect, logger); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	return s, nil
}

// makeFolder creates the folder of the SQLite file, so that the default
// ./data/meterline.db works on a fresh machine.
func makeFolder(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("store: create database folder %s: %w", dir, err)
	}
	return nil
}

// DB is the store's connection pool, for the parts of the portal that
// keep their own tables in the same database (the e-mail outbox).
func (s *Store) DB() *sql.DB { return s.db.DB }

// Dialect says which database the store talks to.
func (s *Store) Dialect() schema.Dialect { return s.dialect }

// Ping checks that the database answers; its error has the code
// domain.EUNAVAILABLE.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w: %w", domain.Errorf(domain.EUNAVAILABLE, "the database does not answer"), err)
	}
	return nil
}

// Close closes the database connections.
func (s *Store) Close() error {
	s.closeStatements()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}
