// Package storetest gives tests a database of their own: a SQLite file in
// a temporary directory, or a fresh PostgreSQL schema on the server named
// by METERLINE_TEST_POSTGRES_URL, dropped when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/lib/pq" // PostgreSQL driver "postgres"
)

// EnvPostgresURL names the PostgreSQL server tests may use.
const EnvPostgresURL = "METERLINE_TEST_POSTGRES_URL"

// SQLiteURL returns the URL of a SQLite file in the test's temporary
// directory.
func SQLiteURL(tb testing.TB) string {
	tb.Helper()
	return "sqlite:" + filepath.Join(tb.TempDir(), "meterline.db")
}

// PostgresURL creates an empty schema t_<random> on the test server and
// returns a URL whose search_path selects it; the schema is dropped at the
// end of the test. Several test packages run at once against one server,
// and a schema each keeps them apart. The test is skipped when
// METERLINE_TEST_POSTGRES_URL is unset.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvPostgresURL)
	if base == "" {
		tb.Skipf("%s is not set: skipping the PostgreSQL test (e.g. %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvPostgresURL, EnvPostgresURL)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", EnvPostgresURL, err)
	}
	name := "t_" + randomHex(tb, 8)

	admin, err := sql.Open("postgres", base)
	if err != nil {
		tb.Fatalf("open %s: %v", EnvPostgresURL, err)
	}
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+name); err != nil {
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

// randomHex returns n random bytes as hex, for names no other test uses.
func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("random name: %v", err)
	}
	return hex.EncodeToString(b)
}

// UniqueName returns prefix followed by random hex: an agent id, client id
// or share group that no test running beside this one uses.
func UniqueName(tb testing.TB, prefix string) string {
	tb.Helper()
	return prefix + randomHex(tb, 6)
}
