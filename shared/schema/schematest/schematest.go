// Package schematest gives tests a Meterline database of their own: a
// SQLite file in a temporary folder, or a fresh PostgreSQL schema on the
// server METERLINE_TEST_POSTGRES_URL names, dropped when the test ends.
// Only tests import it. Like package schema it imports no driver: the
// test binary registers "postgres" (lib/pq), as the code under test does.
package schematest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/meterline/meterline/shared/schema"
)

// EnvPostgres names the variable holding the URL of the PostgreSQL server
// tests may use, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvPostgres = "METERLINE_TEST_POSTGRES_URL"

// SQLiteURL returns the URL of a SQLite file in the test's temporary
// folder. The file does not exist yet.
func SQLiteURL(tb testing.TB) string {
	tb.Helper()
	return "sqlite:" + filepath.Join(tb.TempDir(), "meterline.db")
}

// PostgresURL creates an empty schema t_<random> on the test server and
// returns a URL whose search_path selects it; the schema is dropped when
// the test ends. Several test packages (and the processes an end-to-end
// test starts) share the server, and a schema each keeps them apart. The
// test is skipped when EnvPostgres is not set.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		tb.Skipf("%s is not set: skipping the PostgreSQL test (e.g. %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvPostgres, EnvPostgres)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", EnvPostgres, err)
	}
	name := UniqueName(tb, "t_")
	admin, err := sql.Open(schema.DriverPostgres, base)
	if err != nil {
		tb.Fatalf("open %s: %v", EnvPostgres, err)
	}
	if _, err := admin.ExecContext(context.Background(), `CREATE SCHEMA `+name); err != nil {
		admin.Close()
		tb.Fatalf("create schema %s: %v", name, err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+name+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	q := u.Query()
	q.Set("options", "-c search_path="+name)
	u.RawQuery = q.Encode()
	return u.String()
}

// UniqueName returns prefix followed by random hex: a schema, agent id,
// client id or share group that no test running beside this one uses.
func UniqueName(tb testing.TB, prefix string) string {
	tb.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("random name: %v", err)
	}
	return prefix + hex.EncodeToString(b)
}
