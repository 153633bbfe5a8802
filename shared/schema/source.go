package schema

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/meterline/meterline/shared/redact"
)

// Driver names registered by the drivers Meterline uses: lib/pq for
// PostgreSQL, modernc.org/sqlite (pure Go) for the embedded database.
const (
	DriverPostgres = "postgres"
	DriverSQLite   = "sqlite"
)

// Source says how to open the database a URL names.
type Source struct {
	Dialect Dialect
	Driver  string
	DSN     string
	// Path is the SQLite file, "" for PostgreSQL.
	Path string
}

// ParseSource reads a database URL: postgres:// or postgresql:// for
// PostgreSQL; sqlite:PATH, sqlite://PATH or a bare file path for SQLite.
//
// SQLite is opened in WAL mode with a busy timeout, so the collector writing
// and the portal reading the same file on one box do not fail each other,
// with foreign keys on, write transactions taken immediately (a deferred one
// that later writes can fail with SQLITE_BUSY instead of waiting), and times
// written in a format the driver parses back.
//
// Commits are synchronous FULL: the WAL is synced at every commit, so what
// the collector has acknowledged to an agent (which then drops it from its
// outbox) survives a power cut. NORMAL, WAL's usual pairing, can lose the
// last commits. A connection that only reads never syncs, so readers pay
// nothing for it.
func ParseSource(raw string) (Source, error) {
	switch {
	case raw == "":
		return Source{}, fmt.Errorf("database URL is empty")
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			// url.Error quotes the URL, password and all.
			return Source{}, fmt.Errorf("database URL %s: %w", redact.URL(raw), redact.ParseError(err))
		}
		return Source{Dialect: Postgres, Driver: DriverPostgres, DSN: raw}, nil
	}
	path := raw
	if p, ok := strings.CutPrefix(raw, "sqlite://"); ok {
		path = p
	} else if p, ok := strings.CutPrefix(raw, "sqlite:"); ok {
		path = p
	} else if strings.Contains(raw, "://") {
		return Source{}, fmt.Errorf("database URL %s: scheme must be postgres:// or sqlite:", redact.URL(raw)) //nolint:staticcheck // the colon is the scheme's, not punctuation
	}
	if path == "" {
		return Source{}, fmt.Errorf("database URL %q names no file", redact.URL(raw))
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	return Source{Dialect: SQLite, Driver: DriverSQLite, DSN: "file:" + filepath.ToSlash(path) + "?" + q.Encode(), Path: path}, nil
}
