// Package storetest helps tests put a Meterline database in a known state
// (the database itself comes from shared/schema/schematest): devices with
// their reads written with plain SQL, the way the collector stores them.
// Only tests import it.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
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

func init() {
	sqlx.BindDriver(schema.DriverSQLite, sqlx.QUESTION)
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
		(owner, device_key, serial, mac, vendor, model, firmware, address, agent_id, first_seen, last_seen, last_read_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		"agent:"+d.Agent, d.Key, d.Serial, d.MAC, d.Vendor, d.Model, d.Firmware, d.Address, d.Agent, seen, seen, lastRead).Scan(&id)
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
