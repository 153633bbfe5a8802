package store_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/schema/schematest"
	"github.com/meterline/meterline/shared/wire"
)

var discard = slog.New(slog.DiscardHandler)

// backends are the databases every store test runs against: SQLite always,
// PostgreSQL when schematest.EnvPostgres is set.
var backends = []struct {
	name string
	url  func(testing.TB) string
}{
	{"sqlite", schematest.SQLiteURL},
	{"postgres", schematest.PostgresURL},
}

func open(t *testing.T, url string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url, discard)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func p64(v int64) *int64 { return &v }

var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// summary is what a test checks of a DeviceSummary.
type summary struct {
	Name, Vendor, Model, Address, Agent string
	ReadAt                              time.Time // zero: no read
	Total, Black, Colour                *int64
	Unreported                          []domain.CounterKind
	Supplies                            []wire.Supply
	Status                              *wire.Status
}

func summarize(d store.DeviceSummary) summary {
	s := summary{Name: d.Name(), Vendor: d.Vendor, Model: d.Model, Address: d.Address, Agent: d.AgentID}
	if r := d.Latest; r != nil {
		s.ReadAt, s.Total, s.Black, s.Colour, s.Supplies, s.Status = r.At, r.Total, r.Black, r.Colour, r.Supplies, r.Status
		s.Unreported = r.Unreported
	}
	return s
}

func TestDevices(t *testing.T) {
	colour := []wire.Counter{
		{Kind: domain.CounterTotal, Value: 1500},
		{Kind: domain.CounterBlack, Value: 1000},
		{Kind: domain.CounterColour, Value: 500},
	}
	toners := []wire.Supply{
		storetest.Toner(1, "black", 80),
		storetest.Special(2, domain.SupplyToner, "cyan", -3, domain.LevelSomeRemaining),
		storetest.Waste(3, 25),
	}
	status := &wire.Status{Device: domain.DeviceWarning, Printer: domain.PrinterIdle,
		Conditions: []domain.Condition{domain.CondLowToner, domain.CondJammed}}

	tests := []struct {
		name    string
		devices []storetest.Device
		want    []summary
	}{
		{
			name: "no devices",
			want: []summary{},
		},
		{
			name: "latest read wins",
			devices: []storetest.Device{{
				Serial: "SN1", Vendor: "Xerox", Model: "C405", Address: "127.0.0.1", Agent: "site-a",
				Reads: []storetest.Read{
					{At: t0.Add(-time.Hour), Counters: []wire.Counter{{Kind: domain.CounterTotal, Value: 1400}}},
					{At: t0, Counters: colour, Supplies: toners, Status: status},
					{At: t0.Add(-2 * time.Hour), Counters: []wire.Counter{{Kind: domain.CounterTotal, Value: 1300}}},
				},
			}},
			want: []summary{{
				Name: "SN1", Vendor: "Xerox", Model: "C405", Address: "127.0.0.1", Agent: "site-a",
				ReadAt: t0, Total: p64(1500), Black: p64(1000), Colour: p64(500),
				Supplies: toners, Status: status,
			}},
		},
		{
			name: "absent counters are nil, not zero",
			devices: []storetest.Device{{
				Serial: "MONO1", Vendor: "HP", Model: "M404", Address: "127.0.0.2",
				Reads: []storetest.Read{{At: t0, Counters: []wire.Counter{{Kind: domain.CounterBlack, Value: 0}}}},
			}},
			want: []summary{{
				Name: "MONO1", Vendor: "HP", Model: "M404", Address: "127.0.0.2", Agent: "agent-1",
				ReadAt: t0, Black: p64(0), Supplies: []wire.Supply{},
			}},
		},
		{
			name: "meters the model does not report",
			devices: []storetest.Device{{
				Serial: "OKI1", Vendor: "oki", Model: "C834", Address: "127.0.0.5",
				Reads: []storetest.Read{{At: t0, Counters: []wire.Counter{{Kind: domain.CounterTotal, Value: 9}},
					Unreported: []domain.CounterKind{domain.CounterBlack, domain.CounterColour}}},
			}},
			want: []summary{{
				Name: "OKI1", Vendor: "oki", Model: "C834", Address: "127.0.0.5", Agent: "agent-1",
				ReadAt: t0, Total: p64(9), Supplies: []wire.Supply{},
				Unreported: []domain.CounterKind{domain.CounterBlack, domain.CounterColour},
			}},
		},
		{
			name: "device without serial number or read",
			devices: []storetest.Device{{
				MAC: "00:11:22:33:44:55", Address: "127.0.0.3", Seen: t0,
			}},
			want: []summary{{Name: "mac:00:11:22:33:44:55", Address: "127.0.0.3", Agent: "agent-1"}},
		},
		{
			name: "sorted by vendor, model, serial; unknown vendor last",
			devices: []storetest.Device{
				{Address: "127.0.0.9", Seen: t0},
				{Serial: "B2", Vendor: "xerox", Model: "B405", Address: "a"},
				{Serial: "Z9", Vendor: "Brother", Model: "HL", Address: "b"},
				{Serial: "B1", Vendor: "Xerox", Model: "B405", Address: "c"},
				{Serial: "A1", Vendor: "Xerox", Model: "A7", Address: "d"},
			},
			want: []summary{
				{Name: "Z9", Vendor: "Brother", Model: "HL", Address: "b", Agent: "agent-1"},
				{Name: "A1", Vendor: "Xerox", Model: "A7", Address: "d", Agent: "agent-1"},
				{Name: "B1", Vendor: "Xerox", Model: "B405", Address: "c", Agent: "agent-1"},
				{Name: "B2", Vendor: "xerox", Model: "B405", Address: "a", Agent: "agent-1"},
				{Name: "addr:agent-1/127.0.0.9", Address: "127.0.0.9", Agent: "agent-1"},
			},
		},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					url := b.url(t)
					storetest.Seed(t, url, tt.devices...)
					s := open(t, url)
					devices, err := s.Devices(context.Background())
					if err != nil {
						t.Fatalf("Devices: %v", err)
					}
					got := make([]summary, 0, len(devices))
					for _, d := range devices {
						got = append(got, summarize(d))
					}
					if !reflect.DeepEqual(got, tt.want) {
						t.Errorf("Devices:\n got %+v\nwant %+v", got, tt.want)
					}
				})
			}
		})
	}
}

func TestDevicesSample(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			storetest.Seed(t, url, storetest.Sample(now)...)
			devices, err := open(t, url).Devices(context.Background())
			if err != nil {
				t.Fatalf("Devices: %v", err)
			}
			var names []string
			for _, d := range devices {
				names = append(names, d.Name())
			}
			want := []string{"E78123H9N456", "PHBBK12345", "VCF9204711", "3100R512345", "3TB241507", "mac:00:1b:a9:4c:21:7e"}
			if !reflect.DeepEqual(names, want) {
				t.Errorf("names = %q, want %q", names, want)
			}
			if d := devices[4]; d.Latest == nil || !d.Latest.At.Equal(now.Add(-3*time.Minute)) || *d.Latest.Total != 128450 {
				t.Errorf("Xerox latest read = %+v, want the read of 3 min ago", d.Latest)
			}
		})
	}
}

func TestOpenSQLiteCreatesAndMigrates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "sub", "meterline.db")
	url := "sqlite:" + path
	for i := range 2 { // the second Open finds the schema up to date
		s, err := store.Open(context.Background(), url, discard)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		if err := s.Ping(context.Background()); err != nil {
			t.Errorf("Ping: %v", err)
		}
		if s.Dialect() != schema.SQLite {
			t.Errorf("Dialect = %q", s.Dialect())
		}
		s.Close()
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	db, err := sql.Open(schema.DriverSQLite, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := schema.Check(context.Background(), db, schema.SQLite); err != nil {
		t.Errorf("schema after Open: %v", err)
	}
}

func TestOpenRefusesNewerSQLiteSchema(t *testing.T) {
	url := schematest.SQLiteURL(t)
	storetest.Seed(t, url)
	src, _ := schema.ParseSource(url)
	db, err := sql.Open(src.Driver, src.DSN)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future.sql', 'x')`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Open(context.Background(), url, discard)
	if got := domain.ErrorCode(err); got != domain.ECONFLICT {
		t.Errorf("Open on a newer schema: code %q (%v), want %q", got, err, domain.ECONFLICT)
	}
}

func TestOpenRefusesPostgresSchemaBehind(t *testing.T) {
	url := schematest.PostgresURL(t) // an empty schema: never migrated
	_, err := store.Open(context.Background(), url, discard)
	if !errors.Is(err, schema.ErrBehind) {
		t.Fatalf("Open on an unmigrated PostgreSQL schema: %v, want schema.ErrBehind", err)
	}
	if !strings.Contains(err.Error(), "meterline-collector -migrate") {
		t.Errorf("error %q does not say to run meterline-collector -migrate", err)
	}
	if got := domain.ErrorCode(err); got != domain.ESCHEMABEHIND {
		t.Errorf("code = %q, want %q", got, domain.ESCHEMABEHIND)
	}
}

func TestOpenBadURL(t *testing.T) {
	for _, url := range []string{"", "mysql://db/x"} {
		if _, err := store.Open(context.Background(), url, discard); err == nil {
			t.Errorf("Open(%q) succeeded", url)
		}
	}
}
