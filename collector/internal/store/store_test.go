package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/collector/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/golden"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/schema/schematest"
	"github.com/meterline/meterline/shared/wire"
)

// dialect is one database the suite runs on.
type dialect struct {
	name string
	url  func(testing.TB) string
}

// dialects lists SQLite always and PostgreSQL when the test server is set
// (its subtests skip otherwise, and say why).
var dialects = []dialect{
	{"sqlite", schematest.SQLiteURL},
	{"postgres", schematest.PostgresURL},
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// openStore opens an empty database of the dialect, not migrated.
func openStore(t *testing.T, d dialect) *Store {
	t.Helper()
	s, err := Open(context.Background(), d.url(t), discard())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// migratedStore opens an empty, migrated database of the dialect, with a
// fixed clock.
func migratedStore(t *testing.T, d dialect) *Store {
	t.Helper()
	s := openStore(t, d)
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	s.now = func() time.Time { return time.Date(2025, 4, 1, 8, 0, 0, 0, time.UTC) }
	return s
}

func TestMigrate(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, d)

			err := s.CheckSchema(ctx)
			if !errors.Is(err, schema.ErrBehind) {
				t.Fatalf("CheckSchema on an empty database = %v, want an error wrapping schema.ErrBehind", err)
			}
			if code := domain.ErrorCode(err); code != domain.ESCHEMABEHIND {
				t.Errorf("CheckSchema error code = %q, want %q", code, domain.ESCHEMABEHIND)
			}

			applied, err := s.Migrate(ctx)
			if err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			if len(applied) != schema.Latest(s.Dialect()) {
				t.Errorf("Migrate applied %q, want %d migrations", applied, schema.Latest(s.Dialect()))
			}
			again, err := s.Migrate(ctx)
			if err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
			if len(again) != 0 {
				t.Errorf("Migrate again applied %q, want nothing", again)
			}
			if err := s.CheckSchema(ctx); err != nil {
				t.Errorf("CheckSchema after Migrate: %v", err)
			}
		})
	}
}

// TestDialectsHaveSameTables compares the tables and columns the two
// migrations create.
func TestDialectsHaveSameTables(t *testing.T) {
	ctx := context.Background()
	pg := migratedStore(t, dialects[1]) // skips without PostgreSQL
	lite := migratedStore(t, dialects[0])

	var pgCols []string
	// Partitions of meter_reads are PostgreSQL's storage, not tables of
	// their own.
	err := pg.db.SelectContext(ctx, &pgCols, `SELECT c.table_name || '.' || c.column_name FROM information_schema.columns c
		JOIN pg_class r ON r.relname = c.table_name AND r.relnamespace = current_schema()::regnamespace
		WHERE c.table_schema = current_schema() AND NOT r.relispartition ORDER BY 1`)
	if err != nil {
		t.Fatalf("read PostgreSQL columns: %v", err)
	}
	var liteCols []string
	err = lite.db.SelectContext(ctx, &liteCols, `SELECT m.name || '.' || p.name FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1`)
	if err != nil {
		t.Fatalf("read SQLite columns: %v", err)
	}
	sort.Strings(pgCols)
	sort.Strings(liteCols)
	if !reflect.DeepEqual(pgCols, liteCols) {
		t.Errorf("columns differ:\npostgres: %q\nsqlite:   %q", pgCols, liteCols)
	}
	if len(pgCols) == 0 {
		t.Error("no columns found")
	}
}

// loadBatch reads the batch in testdata/batch.json through the wire
// decoder, as ingest would.
func loadBatch(t *testing.T) wire.ReadBatch {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	batch, _, err := wire.DecodeReadBatch(b, time.Date(2025, 4, 1, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatalf("decode testdata/batch.json: %v", err)
	}
	return batch
}

var receivedAt = time.Date(2025, 4, 1, 7, 59, 59, 0, time.UTC)

func mustSave(t *testing.T, s *Store, batch wire.ReadBatch) (stored int, duplicate bool) {
	t.Helper()
	stored, duplicate, err := s.SaveBatch(context.Background(), batch.AgentID, batch, receivedAt)
	if err != nil {
		t.Fatalf("SaveBatch seq %d: %v", batch.Sequence, err)
	}
	return stored, duplicate
}

// reader reads what the store wrote, through the store's own handle.
func reader(s *Store) *storetest.DB { return &storetest.DB{DB: s.db} }

func mustCount(t *testing.T, s *Store) storetest.Counts {
	t.Helper()
	c, err := reader(s).Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustLatest(t *testing.T, s *Store) []storetest.LatestRead {
	t.Helper()
	reads, err := reader(s).LatestReads(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return reads
}

func ptr(v int64) *int64 { return &v }

// read returns a read of a device with only a serial and a total counter.
func read(serial string, at time.Time, total int64) wire.DeviceRead {
	return wire.DeviceRead{
		Serial:   serial,
		Address:  "127.0.0.1",
		ReadAt:   at,
		Counters: []wire.Counter{{Kind: domain.CounterTotal, Value: total}},
	}
}

func batchOf(seq uint64, reads ...wire.DeviceRead) wire.ReadBatch {
	return wire.ReadBatch{Schema: wire.SchemaVersion, AgentID: "agent-1", Sequence: seq, SentAt: receivedAt, Reads: reads}
}

var t0 = time.Date(2025, 3, 31, 22, 0, 0, 0, time.UTC)

func TestSaveBatch(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, s *Store)
	}{
		{"stores every read with counters promoted", func(t *testing.T, s *Store) {
			batch := loadBatch(t)
			stored, duplicate := mustSave(t, s, batch)
			if stored != 3 || duplicate {
				t.Errorf("SaveBatch = (%d, %v), want (3, false)", stored, duplicate)
			}
			want := storetest.Counts{Agents: 1, Devices: 3, Batches: 1, Reads: 3}
			if got := mustCount(t, s); got != want {
				t.Errorf("Counts = %+v, want %+v", got, want)
			}
			golden.JSON(t, filepath.Join("testdata", "latest_reads.golden.json"), mustLatest(t, s))
		}},
		{"same batch again is a duplicate and adds nothing", func(t *testing.T, s *Store) {
			batch := loadBatch(t)
			mustSave(t, s, batch)
			before := mustCount(t, s)
			stored, duplicate := mustSave(t, s, batch)
			if stored != 0 || !duplicate {
				t.Errorf("SaveBatch again = (%d, %v), want (0, true)", stored, duplicate)
			}
			if got := mustCount(t, s); got != before {
				t.Errorf("Counts after duplicate = %+v, want %+v", got, before)
			}
		}},
		{"read re-sent in a new batch is stored once", func(t *testing.T, s *Store) {
			r := read("SN1", t0, 100)
			mustSave(t, s, batchOf(1, r))
			// Nanoseconds the database cannot keep do not make it a new read.
			r.ReadAt = r.ReadAt.Add(300 * time.Nanosecond)
			stored, duplicate := mustSave(t, s, batchOf(2, r, read("SN2", t0, 5)))
			if stored != 1 || duplicate {
				t.Errorf("SaveBatch = (%d, %v), want (1, false)", stored, duplicate)
			}
			want := storetest.Counts{Agents: 1, Devices: 2, Batches: 2, Reads: 2}
			if got := mustCount(t, s); got != want {
				t.Errorf("Counts = %+v, want %+v", got, want)
			}
		}},
		{"device without serial is keyed by MAC, then by address", func(t *testing.T, s *Store) {
			batch := loadBatch(t)
			mustSave(t, s, batch)
			var keys []string
			for _, r := range mustLatest(t, s) {
				keys = append(keys, r.DeviceKey)
			}
			want := []string{"addr:agent-1/127.0.10.40:1161", "mac:00:80:77:aa:bb:cc", "sn:CNB1234567"}
			if !reflect.DeepEqual(keys, want) {
				t.Errorf("device keys = %q, want %q", keys, want)
			}
		}},
		{"absent counters stay NULL", func(t *testing.T, s *Store) {
			mustSave(t, s, batchOf(1,
				read("MONO", t0, 42),
				wire.DeviceRead{Serial: "NONE", Address: "127.0.0.2", ReadAt: t0},
				wire.DeviceRead{Serial: "ZERO", Address: "127.0.0.3", ReadAt: t0, Counters: []wire.Counter{{Kind: domain.CounterBlack, Value: 0}}},
			))
			got := map[string][3]*int64{}
			for _, r := range mustLatest(t, s) {
				got[r.Serial] = [3]*int64{r.Total, r.Black, r.Colour}
			}
			want := map[string][3]*int64{
				"MONO": {ptr(42), nil, nil},
				"NONE": {nil, nil, nil},
				"ZERO": {nil, ptr(0), nil},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("promoted counters:\n got %s\nwant %s", show(got), show(want))
			}
		}},
		{"meters a model does not report are kept with the read", func(t *testing.T, s *Store) {
			without := read("TOTALONLY", t0, 42)
			without.Unreported = []domain.CounterKind{domain.CounterBlack, domain.CounterColour}
			mustSave(t, s, batchOf(1, without, read("ALL", t0, 7)))
			var rows []struct {
				Serial     string         `db:"serial"`
				Unreported sql.NullString `db:"unreported"`
			}
			if err := s.db.SelectContext(t.Context(), &rows, `SELECT d.serial, m.unreported FROM meter_reads m JOIN devices d ON d.id = m.device_id ORDER BY d.serial`); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, r := range rows {
				got[r.Serial] = strings.ReplaceAll(r.Unreported.String, " ", "")
			}
			want := map[string]string{"ALL": "", "TOTALONLY": `["black","colour"]`}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("unreported = %q, want %q", got, want)
			}
		}},
		{"newest read wins, a replayed older one changes nothing", func(t *testing.T, s *Store) {
			newer := read("SN1", t0.Add(time.Hour), 200)
			newer.Model, newer.Address = "Model B", "127.0.0.9"
			mustSave(t, s, batchOf(2, newer))
			older := read("SN1", t0, 100)
			older.Model = "Model A"
			if stored, _ := mustSave(t, s, batchOf(1, older)); stored != 1 {
				t.Errorf("older read stored = %d, want 1 (it is a read all the same)", stored)
			}
			// Unknown fields of a newer read keep what is known.
			blank := read("SN1", t0.Add(2*time.Hour), 300)
			mustSave(t, s, batchOf(3, blank))
			latest := mustLatest(t, s)
			if len(latest) != 1 {
				t.Fatalf("LatestReads = %d devices, want 1", len(latest))
			}
			if l := latest[0]; l.Model != "Model B" || *l.Total != 300 || !l.ReadAt.Equal(t0.Add(2*time.Hour)) {
				t.Errorf("latest = %s, want model Model B, total 300 at %s", show(l), t0.Add(2*time.Hour))
			}
			if c := mustCount(t, s); c.Reads != 3 || c.Devices != 1 {
				t.Errorf("Counts = %+v, want 3 reads of 1 device", c)
			}
		}},
		{"times are stored in UTC to the microsecond", func(t *testing.T, s *Store) {
			paris := time.FixedZone("CEST", 2*60*60)
			at := time.Date(2025, 3, 31, 23, 45, 0, 123456789, paris)
			mustSave(t, s, batchOf(1, read("SN1", at, 1)))
			got := mustLatest(t, s)[0].ReadAt
			want := time.Date(2025, 3, 31, 21, 45, 0, 123456000, time.UTC)
			if !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("read_at = %s, want %s", got, want)
			}
		}},
		{"NUL bytes are dropped, not refused", func(t *testing.T, s *Store) {
			r := read("SN1", t0, 1)
			r.Model = "M\x00479"
			r.Counters[0].Source = "vendor\x00oid"
			r.Supplies = []wire.Supply{{Index: 1, Description: "Toner\x00\x00", Kind: domain.SupplyToner, State: domain.LevelUnknown}}
			if stored, _ := mustSave(t, s, batchOf(1, r)); stored != 1 {
				t.Fatalf("stored = %d, want 1", stored)
			}
			if m := mustLatest(t, s)[0].Model; m != "M479" {
				t.Errorf("model = %q, want %q", m, "M479")
			}
		}},
		{"empty batch is recorded", func(t *testing.T, s *Store) {
			if stored, duplicate := mustSave(t, s, batchOf(1)); stored != 0 || duplicate {
				t.Errorf("SaveBatch = (%d, %v), want (0, false)", stored, duplicate)
			}
			if _, duplicate := mustSave(t, s, batchOf(1)); !duplicate {
				t.Error("empty batch again is not a duplicate")
			}
		}},
		{"data the schema cannot hold is refused as invalid", func(t *testing.T, s *Store) {
			ctx := context.Background()
			for _, b := range []wire.ReadBatch{
				batchOf(math.MaxInt64 + 1),
				batchOf(1, read(strings.Repeat("XY", MaxDeviceKeyBytes/2), t0, 1)),
			} {
				_, _, err := s.SaveBatch(ctx, b.AgentID, b, receivedAt)
				if code := domain.ErrorCode(err); code != domain.EINVALID {
					t.Errorf("SaveBatch(seq %d) error = %v, want code %q", b.Sequence, err, domain.EINVALID)
				}
			}
			if c := mustCount(t, s); c != (storetest.Counts{}) {
				t.Errorf("Counts = %+v, want nothing stored", c)
			}
		}},
	}
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					tt.run(t, migratedStore(t, d))
				})
			}
		})
	}
}

func TestSaveStatusEventDeadLetter(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s := migratedStore(t, d)

			t.Run("status", func(t *testing.T) {
				online := wire.AgentStatus{Schema: 1, AgentID: "agent-9", State: domain.AgentOnline, Version: "1.2.0", At: t0}
				if err := s.SaveStatus(ctx, online); err != nil {
					t.Fatal(err)
				}
				offline := wire.AgentStatus{Schema: 1, AgentID: "agent-9", State: domain.AgentOffline}
				if err := s.SaveStatus(ctx, offline); err != nil {
					t.Fatal(err)
				}
				a, err := reader(s).Agent(ctx, "agent-9")
				if err != nil {
					t.Fatal(err)
				}
				if a.Online || a.Version != "1.2.0" || !a.Status.Valid || !strings.Contains(a.Status.String, `"offline"`) {
					t.Errorf("agent = %s, want offline, version 1.2.0 kept, status stored", show(a))
				}
				if _, err := reader(s).Agent(ctx, "nobody"); domain.ErrorCode(err) != domain.ENOTFOUND {
					t.Errorf("Agent(nobody) error = %v, want %s", err, domain.ENOTFOUND)
				}
			})

			t.Run("event is stored once", func(t *testing.T) {
				e := wire.Event{Schema: 1, AgentID: "agent-9", ID: "ev-1", At: t0, Kind: domain.EventTonerLow, Serial: "sn1", Message: "low\x00"}
				for range 2 {
					if err := s.SaveEvent(ctx, e); err != nil {
						t.Fatal(err)
					}
				}
				var key string
				if err := s.db.GetContext(ctx, &key, `SELECT device_key FROM events`); err != nil {
					t.Fatal(err)
				}
				if key != "sn:SN1" {
					t.Errorf("event device key = %q, want sn:SN1", key)
				}
				if c := mustCount(t, s); c.Events != 1 {
					t.Errorf("events = %d, want 1", c.Events)
				}
			})

			t.Run("dead letter payload is kept whole up to the payload limit", func(t *testing.T) {
				whole := bytes.Repeat([]byte{0, 0xff, '{'}, 100<<10) // 300 KiB
				huge := bytes.Repeat([]byte{'x'}, MaxDeadLetterBytes+10)
				for _, m := range []RefusedMessage{
					{Topic: "meterline/v1/agents/a/reads", Reason: "invalid: not JSON", Payload: whole, AgentID: "a"},
					{Topic: "meterline/v1/agents/a/reads", Reason: "too_large: payload", Payload: huge, AgentID: "a"},
					{Topic: "meterline/v1/agents/a/reads", Reason: "invalid: empty", Payload: nil, AgentID: "a"},
				} {
					if _, err := s.SaveDeadLetter(ctx, m); err != nil {
						t.Fatal(err)
					}
				}
				letters, err := reader(s).DeadLetters(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(letters) != 3 {
					t.Fatalf("dead letters = %d, want 3", len(letters))
				}
				if l := letters[0]; !bytes.Equal(l.Payload, whole) || l.Reason != "invalid: not JSON" || l.AgentID != "a" {
					t.Errorf("dead letter = %d bytes, reason %q, agent %q; want the %d bytes whole, the reason and agent a", len(l.Payload), l.Reason, l.AgentID, len(whole))
				}
				if l := letters[1]; !bytes.Equal(l.Payload, huge[:MaxDeadLetterBytes]) {
					t.Errorf("oversized dead letter = %d bytes, want the first %d", len(l.Payload), MaxDeadLetterBytes)
				}
			})
		})
	}
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
