package schema

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestMigrationsNumbered(t *testing.T) {
	for _, d := range []Dialect{Postgres, SQLite} {
		ms, err := Migrations(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 || Latest(d) != len(ms) {
			t.Fatalf("%s: %d migrations, Latest %d", d, len(ms), Latest(d))
		}
	}
	if Latest(Postgres) != Latest(SQLite) {
		t.Errorf("postgres has %d migrations, sqlite %d: every step needs its twin", Latest(Postgres), Latest(SQLite))
	}
}

var (
	createTable = regexp.MustCompile(`(?is)CREATE TABLE (\w+) \((.*?)\n\);`)
	columnLine  = regexp.MustCompile(`^\s+(\w+)\s+\w+`)
	alterTable  = regexp.MustCompile(`(?is)ALTER TABLE (\w+)\s+(ADD COLUMN [^;]*);`)
	addColumn   = regexp.MustCompile(`(?i)ADD COLUMN (\w+)`)
)

// tables reads the tables and columns each migration creates, so the test
// can check that the two dialects describe the same schema. The drivers'
// own tests (collector/internal/store) compare the applied databases.
func tables(t *testing.T, d Dialect) map[string][]string {
	t.Helper()
	ms, err := Migrations(d)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, m := range ms {
		// The statements in order: a table created again (SQLite rebuilds
		// a table to change a constraint) replaces what came before.
		type change struct {
			at   int
			stmt []string
		}
		var changes []change
		for _, idx := range createTable.FindAllStringSubmatchIndex(m.SQL, -1) {
			changes = append(changes, change{idx[0], []string{"create", m.SQL[idx[2]:idx[3]], m.SQL[idx[4]:idx[5]]}})
		}
		for _, idx := range alterTable.FindAllStringSubmatchIndex(m.SQL, -1) {
			for _, add := range addColumn.FindAllStringSubmatch(m.SQL[idx[4]:idx[5]], -1) {
				changes = append(changes, change{idx[0], []string{"add", m.SQL[idx[2]:idx[3]], add[1]}})
			}
		}
		slices.SortFunc(changes, func(a, b change) int { return a.at - b.at })
		for _, c := range changes {
			table := strings.ToLower(c.stmt[1])
			if c.stmt[0] == "add" {
				out[table] = append(out[table], strings.ToLower(c.stmt[2]))
				continue
			}
			var cols []string
			for _, line := range strings.Split(c.stmt[2], "\n") {
				c := columnLine.FindStringSubmatch(line)
				if c == nil || slices.Contains([]string{"PRIMARY", "UNIQUE", "FOREIGN", "CHECK"}, strings.ToUpper(c[1])) {
					continue
				}
				cols = append(cols, strings.ToLower(c[1]))
			}
			out[table] = cols
		}
	}
	return out
}

func TestDialectsDescribeTheSameSchema(t *testing.T) {
	pg, lite := tables(t, Postgres), tables(t, SQLite)
	if len(pg) == 0 {
		t.Fatal("no tables found in the postgres migrations")
	}
	for name, cols := range pg {
		if !slices.Equal(cols, lite[name]) {
			t.Errorf("table %s: postgres columns %v, sqlite %v", name, cols, lite[name])
		}
	}
	for name := range lite {
		if _, ok := pg[name]; !ok {
			t.Errorf("table %s only in sqlite", name)
		}
	}
}

// TestParseSourceHidesPasswords: a malformed database URL is named in the
// error without its password, wherever the password sits.
func TestParseSourceHidesPasswords(t *testing.T) {
	for _, raw := range []string{
		"postgres://meterline:s3cret@db:port/meterline",
		"postgres://meterline:s3cret@db/x%zz",
		"postgresql://meter line:s3cret@db/meterline",
		"mysql://meterline:s3cret@db/meterline",
		"mysql://db/meterline?password=s3cret",
	} {
		_, err := ParseSource(raw)
		if err == nil {
			t.Errorf("ParseSource(%q) accepted", raw)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseSource error shows the password: %v", err)
		}
	}
}

func TestParseSource(t *testing.T) {
	tests := []struct {
		url     string
		dialect Dialect
		dsn     string
		wantErr bool
	}{
		{url: "postgres://u@127.0.0.1/db?sslmode=disable", dialect: Postgres, dsn: "postgres://u@127.0.0.1/db?sslmode=disable"},
		{url: "postgresql://u@127.0.0.1/db", dialect: Postgres, dsn: "postgresql://u@127.0.0.1/db"},
		{url: "sqlite:data/m.db", dialect: SQLite, dsn: "file:data/m.db?"},
		{url: "sqlite:///var/lib/m.db", dialect: SQLite, dsn: "file:/var/lib/m.db?"},
		{url: "./m.db", dialect: SQLite, dsn: "file:./m.db?"},
		{url: "", wantErr: true},
		{url: "mysql://x", wantErr: true},
		{url: "sqlite:", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			s, err := ParseSource(tt.url)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("accepted: %+v", s)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Dialect != tt.dialect || !strings.HasPrefix(s.DSN, tt.dsn) {
				t.Errorf("got %+v", s)
			}
			if s.Dialect == SQLite && (s.Path == "" || !strings.Contains(s.DSN, "journal_mode%28WAL%29")) {
				t.Errorf("sqlite DSN without WAL: %s", s.DSN)
			}
			if s.Dialect == SQLite && !strings.Contains(s.DSN, "synchronous%28FULL%29") {
				t.Errorf("sqlite DSN without synchronous FULL: %s", s.DSN)
			}
		})
	}
}

func TestRebind(t *testing.T) {
	q := `SELECT a FROM t WHERE b = ? AND c IN (?, ?)`
	if got := Rebind(SQLite, q); got != q {
		t.Errorf("sqlite: %s", got)
	}
	if got, want := Rebind(Postgres, q), `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`; got != want {
		t.Errorf("postgres: %s, want %s", got, want)
	}
}
