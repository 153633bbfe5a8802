// Package schema is Meterline's database schema: numbered SQL migrations for
// PostgreSQL and their SQLite twins, embedded, and a small runner on
// database/sql that applies them in order and tells whether a database is
// up to date. It imports no driver: callers open the *sql.DB.
package schema

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/meterline/meterline/shared/domain"
)

// Dialect is the SQL flavour of a database.
type Dialect string

// Dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

//go:embed migrations
var migrationFS embed.FS

// Migration is one numbered step of the schema.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the dialect's migrations in version order.
func Migrations(d Dialect) ([]Migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("schema: no migrations for dialect %q: %w", d, err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("schema: migration %s: name must start with a positive number and '_'", e.Name())
		}
		b, err := migrationFS.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("schema: read %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("schema: migration %s: expected version %d", m.Name, i+1)
		}
	}
	return ms, nil
}

// Latest returns the version the binary expects.
func Latest(d Dialect) int {
	ms, err := Migrations(d)
	if err != nil {
		return 0
	}
	return len(ms)
}

// Rebind writes the '?' placeholders of query as the dialect wants them:
// $1, $2… on PostgreSQL, as they are on SQLite. For code on database/sql
// without sqlx (whose Rebind does the same); query must hold no literal
// question mark.
func Rebind(d Dialect, query string) string {
	if d != Postgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

const createTracking = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  text NOT NULL
)`

// migrateLockID keys the PostgreSQL advisory lock that keeps two collectors
// started at once from applying the same migration twice.
const migrateLockID = 0x6d65746572 // "meter"

// Migrate applies the migrations not yet applied, each in its own
// transaction, and returns the names of those it applied.
func Migrate(ctx context.Context, db *sql.DB, d Dialect) ([]string, error) {
	ms, err := Migrations(d)
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("schema: connect: %w", err)
	}
	defer conn.Close()
	if d == Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrateLockID); err != nil {
			return nil, fmt.Errorf("schema: take migration lock: %w", err)
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockID)
		}()
	}
	if _, err := conn.ExecContext(ctx, createTracking); err != nil {
		return nil, fmt.Errorf("schema: create schema_migrations: %w", err)
	}
	// Each step reads the version inside its own write transaction, so two
	// processes migrating one new SQLite file at once (collector and portal
	// on a first run) take turns instead of both applying step 1; on
	// PostgreSQL the advisory lock above already serialises them.
	var applied []string
	for {
		name, err := applyNext(ctx, conn, d, ms)
		if err != nil {
			return applied, err
		}
		if name == "" {
			return applied, nil
		}
		applied = append(applied, name)
	}
}

// applyNext applies the first migration not yet applied and returns its
// name, or "" when the schema is up to date.
func applyNext(ctx context.Context, conn *sql.Conn, d Dialect, ms []Migration) (string, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("schema: begin: %w", err)
	}
	defer tx.Rollback()
	current, err := version(ctx, tx)
	if err != nil {
		return "", err
	}
	if current > len(ms) {
		return "", domain.Errorf(domain.ECONFLICT, "database schema version %d is newer than this binary's %d", current, len(ms))
	}
	if current == len(ms) {
		return "", nil
	}
	m := ms[current]
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return "", fmt.Errorf("schema: apply %s: %w", m.Name, err)
	}
	insert := Rebind(d, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`)
	if _, err := tx.ExecContext(ctx, insert, m.Version, m.Name, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return "", fmt.Errorf("schema: record %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("schema: commit %s: %w", m.Name, err)
	}
	return m.Name, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func version(ctx context.Context, q querier) (int, error) {
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema: read version: %w", err)
	}
	return int(v.Int64), nil
}

// Version returns the version of the schema applied to db, 0 for a
// database never migrated (it has no tracking table yet).
func Version(ctx context.Context, db *sql.DB) (int, error) {
	if _, err := db.ExecContext(ctx, `SELECT 1 FROM schema_migrations WHERE 1 = 0`); err != nil {
		return 0, nil
	}
	return version(ctx, db)
}

// ErrBehind is wrapped by Check when migrations are pending.
var ErrBehind = errors.New("database schema is behind")

// Check returns nil when db's schema is the one the binary expects, and an
// error wrapping ErrBehind (code domain.ESCHEMABEHIND) when migrations are
// pending: services refuse to start on a schema that is behind.
func Check(ctx context.Context, db *sql.DB, d Dialect) error {
	have, err := Version(ctx, db)
	if err != nil {
		return err
	}
	want := Latest(d)
	if have < want {
		return fmt.Errorf("%w: version %d, want %d (run meterline-collector -migrate): %w",
			ErrBehind, have, want, domain.Errorf(domain.ESCHEMABEHIND, "schema version %d is behind %d", have, want))
	}
	if have > want {
		return domain.Errorf(domain.ECONFLICT, "database schema version %d is newer than this binary's %d", have, want)
	}
	return nil
}

// Prepare makes db's schema the one the binary expects before a service
// starts on it. On the embedded SQLite database it applies the pending
// migrations, so that a single box's first run just works (two processes
// doing so at once take turns, see Migrate), and logs each one to logger.
// On PostgreSQL the schema is an operator's step (meterline-collector
// -migrate): Prepare only checks it, and its error wraps ErrBehind when
// migrations are pending.
func Prepare(ctx context.Context, db *sql.DB, d Dialect, logger *slog.Logger) error {
	if d == SQLite {
		applied, err := Migrate(ctx, db, d)
		for _, name := range applied {
			logger.Info("migration applied", "migration", name, "dialect", string(d))
		}
		if err != nil {
			return fmt.Errorf("schema: migrate the SQLite database: %w", err)
		}
	}
	if err := Check(ctx, db, d); err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	return nil
}
