// Package storetest helps tests put a Meterline database in a known state:
// a throwaway SQLite file or PostgreSQL schema, and devices with their reads
// written with plain SQL, the way the collector stores them. Only tests
// import it.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"  // the "postgres" driver
	_ "modernc.org/sqlite" // the "sqlite" driver

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/wire"
)

// EnvPostgres names the variable holding the URL of the PostgreSQL server
// tests may use, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvPostgres = "METERLINE_TEST_POSTGRES_URL"

func init() {
	sqlx.BindDriver(schema.DriverSQLite, sqlx.QUESTION)
}

// SQLite returns the URL of a SQLite file in a fresh temporary folder. The
// file does not exist yet.
func SQLite(tb testing.TB) string {
	tb.Helper()
	return "sqlite:" + filepath.Join(tb.TempDir(), "meterline.db")
}

// Postgres returns the URL of a fresh, empty schema on the server that
// EnvPostgres names, dropped when the test ends; it skips the test when
// EnvPostgres is not set. Tests of other packages share the server, so
// each test gets its own schema, set as the connection's search_path.
func Postgres(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		tb.Skipf("%s is not set: skipping the PostgreSQL run (set it to e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvPostgres)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", EnvPostgres, err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	name := "t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open(schema.DriverPostgres, base)
	if err != nil {
		tb.Fatalf("open PostgreSQL: %v", err)
	}
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		admin.Close()
		tb.Fatalf("create schema %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
		admin.Close()
	})
	q := u.Query()
	q.Set("options", "-csearch_path="+name)
	u.RawQuery = q.Encode()
	return u.String()
}

// Device is a device to write, with its reads.
type Device struct {
	// Key defaults to the key the collector would give (wire.DeviceRead.Key).
	Key      string
	Serial   string
	MAC      string
	Vendor   string
	Model    string
	Firmware string
	Address  string
	// Agent defaults to "agent-1".
	Agent string
	// Seen is when the device was last seen, defaulting to its latest read.
	Seen  time.Time
	Reads []Read
}

// Read is one read of a device. Total, black and colour are promoted from
// Counters as the collector does.
type Read struct {
	At         time.Time
	Counters   []wire.Counter
	Unreported []domain.CounterKind
	Supplies   []wire.Supply
	Status     *wire.Status
}

// Seed migrates the database rawURL names and writes the devices into it.
func Seed(tb testing.TB, rawURL string, devices ...Device) {
	tb.Helper()
	src, err := schema.ParseSource(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	db, err := sqlx.Open(src.Driver, src.DSN)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := schema.Migrate(ctx, db.DB, src.Dialect); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	if err := Insert(ctx, db, devices...); err != nil {
		tb.Fatalf("seed: %v", err)
	}
}

// Insert writes the devices, their agents and their reads into a migrated
// database.
func Insert(ctx context.Context, db *sqlx.DB, devices ...Device) error {
	for _, d := range devices {
		if err := insert(ctx, db, d); err != nil {
			return fmt.Errorf("device %s: %w", d.Serial, err)
		}
	}
	return nil
}

func insert(ctx context.Context, db *sqlx.DB, d Device) error {
	if d.Agent == "" {
		d.Agent = "agent-1"
	}
	if d.Key == "" {
		d.Key = wire.DeviceRead{Serial: d.Serial, MAC: d.MAC, Address: d.Address}.Key(d.Agent)
	}
	var last *time.Time
	for _, r := range d.Reads {
		if last == nil || r.At.After(*last) {
			at := r.At
			last = &at
		}
	}
	seen := d.Seen
	if seen.IsZero() {
		seen = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if last != nil {
			seen = *last
		}
	}
	seen = seen.UTC()
	if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO agents (id, version, online, first_seen, last_seen)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`), d.Agent, "test", true, seen, seen); err != nil {
		return fmt.Errorf("insert agent: %w", err)
	}
	var lastRead any
	if last != nil {
		lastRead = last.UTC()
	}
	var id int64
	err := db.QueryRowxContext(ctx, db.Rebind(`INSERT INTO devices
		(device_key, serial, mac, vendor, model, firmware, address, agent_id, first_seen, last_seen, last_read_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		d.Key, d.Serial, d.MAC, d.Vendor, d.Model, d.Firmware, d.Address, d.Agent, seen, seen, lastRead).Scan(&id)
	if err != nil {
		return fmt.Errorf("insert device: %w", err)
	}
	for i, r := range d.Reads {
		counters, err := json.Marshal(nonNil(r.Counters))
		if err != nil {
			return err
		}
		supplies, err := json.Marshal(nonNil(r.Supplies))
		if err != nil {
			return err
		}
		var status any
		if r.Status != nil {
			b, err := json.Marshal(r.Status)
			if err != nil {
				return err
			}
			status = string(b)
		}
		var unreported any
		if len(r.Unreported) > 0 {
			b, err := json.Marshal(r.Unreported)
			if err != nil {
				return err
			}
			unreported = string(b)
		}
		read := wire.DeviceRead{Counters: r.Counters}
		_, err = db.ExecContext(ctx, db.Rebind(`INSERT INTO meter_reads
			(device_id, read_at, agent_id, seq, total, black, colour, counters, supplies, status, stored_at, unreported)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			id, r.At.UTC(), d.Agent, i+1,
			counter(read, domain.CounterTotal), counter(read, domain.CounterBlack), counter(read, domain.CounterColour),
			string(counters), string(supplies), status, r.At.UTC(), unreported)
		if err != nil {
			return fmt.Errorf("insert read %d: %w", i, err)
		}
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return slices.Clip(s)
}

// counter returns the counter's value, or nil (SQL NULL) when absent.
func counter(r wire.DeviceRead, kind domain.CounterKind) any {
	if v, ok := r.Counter(kind); ok {
		return v
	}
	return nil
}
