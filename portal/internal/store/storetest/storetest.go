// Package storetest helps tests put a Meterline database in a known state
// (the database itself comes from shared/schema/schematest): devices with
// their reads written with plain SQL, the way the collector stores them.
// Only tests import it.
package storetest

import (
	"context"
	"database/sql"
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

// Fleet is a fleet of devices under one contract, for the scale tests of
// the pages that list an account's devices.
type Fleet struct {
	AccountID  int64
	ContractID int64
	// LocationIDs are spread over the devices in turn; none: no location.
	LocationIDs []int64
	// Devices is how many; their serials are Prefix + a number.
	Devices int
	Prefix  string
	// ReadAt is the time of each device's one read (with supplies).
	ReadAt time.Time
}

// InsertFleet writes the fleet's devices, active under the contract, each
// with one read carrying meters and supply levels (four toners, a drum and
// a waste container on the colour ones, one toner at -3 "some remaining"
// on every fifth mono one), in one transaction, as the collector leaves
// them (last_read_at and the last meters on the device).
func InsertFleet(ctx context.Context, db *sqlx.DB, f Fleet) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	at := f.ReadAt.UTC()
	for i := range f.Devices {
		serial := fmt.Sprintf("%s%05d", f.Prefix, i+1)
		colour := i%5 < 2
		model, black, col := "HP LaserJet M507", int64(10000+i*37), sql.NullInt64{}
		supplies := []wire.Supply{Toner(1, "black", 5+i%90)}
		if colour {
			model, col = "Xerox VersaLink C405", sql.NullInt64{Int64: int64(4000 + i*11), Valid: true}
			supplies = append(supplies, Toner(2, "cyan", i%100), Toner(3, "magenta", (i*7)%100), Toner(4, "yellow", (i*13)%100),
				Measured(5, domain.SupplyDrum, "Drum Cartridge", 60), Waste(6, 30))
		} else if i%5 == 4 {
			supplies = []wire.Supply{Special(1, domain.SupplyToner, "black", -3, domain.LevelSomeRemaining)}
		}
		total := black + col.Int64
		var location any
		if len(f.LocationIDs) > 0 {
			location = f.LocationIDs[i%len(f.LocationIDs)]
		}
		var id int64
		err := tx.GetContext(ctx, &id, tx.Rebind(`INSERT INTO devices
		(owner, device_key, serial, vendor, model, product_code, account_id, contract_id, location_id, state, replenishment,
		 first_seen, last_seen, last_read_at, last_total, last_black, last_colour)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', 'eligible', ?, ?, ?, ?, ?, ?) RETURNING id`),
			fmt.Sprintf("acct:%d", f.AccountID), "sn:"+serial, serial, "", model, "MX1", f.AccountID, f.ContractID, location,
			at, at, at, total, black, col)
		if err != nil {
			return fmt.Errorf("insert device %s: %w", serial, err)
		}
		counters := []wire.Counter{{Kind: domain.CounterTotal, Value: total}, {Kind: domain.CounterBlack, Value: black}}
		if colour {
			counters = append(counters, wire.Counter{Kind: domain.CounterColour, Value: col.Int64})
		}
		cj, err := json.Marshal(counters)
		if err != nil {
			return err
		}
		sj, err := json.Marshal(supplies)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO meter_reads
		(device_id, read_at, agent_id, seq, total, black, colour, counters, supplies, stored_at)
		VALUES (?, ?, 'fleet', ?, ?, ?, ?, ?, ?, ?)`), id, at, i+1, total, black, col, string(cj), string(sj), at); err != nil {
			return fmt.Errorf("insert the read of %s: %w", serial, err)
		}
	}
	return tx.Commit()
}
