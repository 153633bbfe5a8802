package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"testing"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/schema/schematest"
	"github.com/meterline/meterline/shared/wire"
)

func TestSQLite(t *testing.T) {
	testGenerate(t, schematest.SQLiteURL(t))
}

func TestPostgres(t *testing.T) {
	testGenerate(t, schematest.PostgresURL(t))
}

func migrated(t *testing.T, url string) *sql.DB {
	t.Helper()
	src, err := schema.ParseSource(url)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(src.Driver, src.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := schema.Migrate(context.Background(), db, src.Dialect); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

func testGenerate(t *testing.T, url string) {
	ctx := context.Background()
	db := migrated(t, url)
	args := []string{"-database", url, "-accounts", "20", "-devices", "100", "-days", "10", "-reads-per-day", "2", "-seed", "7", "-start", "2026-01-27"}
	var out, errOut bytes.Buffer
	if err := run(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s%s", err, out.String(), errOut.String())
	}
	for _, table := range []string{"accounts", "shipping_locations", "contracts", "users", "memberships", "devices", "meter_reads"} {
		if !strings.Contains(out.String(), table) {
			t.Errorf("output names no %s:\n%s", table, out.String())
		}
	}
	count := func(q string) int64 {
		t.Helper()
		var n int64
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	for q, want := range map[string]int64{
		`SELECT COUNT(*) FROM accounts`:                                                                     20,
		`SELECT COUNT(*) FROM shipping_locations`:                                                           20,
		`SELECT COUNT(*) FROM contracts`:                                                                    20,
		`SELECT COUNT(*) FROM users`:                                                                        20,
		`SELECT COUNT(*) FROM memberships WHERE role = 'primary'`:                                           20,
		`SELECT COUNT(*) FROM devices WHERE state = 'active' AND contract_id IS NOT NULL`:                   100,
		`SELECT COUNT(*) FROM devices WHERE replenishment IN ('eligible', 'active', 'ineligible')`:          100,
		`SELECT COUNT(*) FROM devices WHERE owner = 'acct:' || account_id AND device_key = 'sn:' || serial`: 100,
		`SELECT COUNT(*) FROM meter_reads`:                                                                  100 * 10 * 2,
		`SELECT COUNT(DISTINCT device_id) FROM meter_reads`:                                                 100,
		`SELECT COUNT(*) FROM devices d JOIN meter_reads m ON m.device_id = d.id AND m.read_at = d.last_read_at AND m.total = d.last_total`: 100,
		`SELECT COUNT(*) FROM meter_reads WHERE total <> black + COALESCE(colour, 0)`:                                                       0,
		`SELECT COUNT(*) FROM (SELECT total - LAG(total) OVER w AS dt, black - LAG(black) OVER w AS db, colour - LAG(colour) OVER w AS dc
			FROM meter_reads WINDOW w AS (PARTITION BY device_id ORDER BY read_at)) x WHERE dt < 0 OR db < 0 OR dc < 0`: 0,
	} {
		if got := count(q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	if count(`SELECT COUNT(*) FROM devices WHERE last_colour IS NOT NULL`) == 0 {
		t.Error("no colour device")
	}

	// Ids continue after the rows there: a second seed adds as much again.
	args[len(args)-3] = "8"
	out.Reset()
	if err := run(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("second run: %v\n%s", err, errOut.String())
	}
	if got := count(`SELECT COUNT(*) FROM meter_reads`); got != 2*100*10*2 {
		t.Errorf("meter_reads after a second seed = %d, want %d", got, 2*100*10*2)
	}
}

func TestNotMigrated(t *testing.T) {
	url := schematest.SQLiteURL(t)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-database", url, "-accounts", "1", "-devices", "1", "-days", "1"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "must already be migrated") {
		t.Fatalf("run on an empty database: %v, want an error saying it must be migrated", err)
	}
}

func TestPortalFixtureSQLite(t *testing.T) {
	testPortalFixture(t, schematest.SQLiteURL(t))
}

func TestPortalFixturePostgres(t *testing.T) {
	testPortalFixture(t, schematest.PostgresURL(t))
}

// testPortalFixture: the fixture of the portal's wrk measurement, one
// account whose devices' reads carry supplies and whose primary user can
// sign in.
func testPortalFixture(t *testing.T, url string) {
	ctx := context.Background()
	db := migrated(t, url)
	const hash = "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA"
	args := []string{"-database", url, "-accounts", "1", "-devices", "30", "-days", "2", "-seed", "3", "-start", "2026-01-27",
		"-supplies", "-password-hash", hash}
	var out, errOut bytes.Buffer
	if err := run(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "primary.3.1@scale.example") {
		t.Errorf("output names no primary user:\n%s", out.String())
	}
	var got string
	if err := db.QueryRowContext(ctx, `SELECT u.password_hash FROM users u JOIN memberships m ON m.user_id = u.id
		WHERE m.role = 'primary' AND u.email = 'primary.3.1@scale.example'`).Scan(&got); err != nil || got != hash {
		t.Errorf("primary's password hash = %q, %v", got, err)
	}
	rows, err := db.QueryContext(ctx, `SELECT r.supplies, d.last_colour IS NOT NULL FROM devices d
		JOIN meter_reads r ON r.device_id = d.id AND r.read_at = d.last_read_at ORDER BY d.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	devices, someRemaining := 0, 0
	for rows.Next() {
		var raw string
		var colour bool
		if err := rows.Scan(&raw, &colour); err != nil {
			t.Fatal(err)
		}
		devices++
		var supplies []wire.Supply
		if err := json.Unmarshal([]byte(raw), &supplies); err != nil {
			t.Fatalf("supplies %s: %v", raw, err)
		}
		want := 1
		if colour {
			want = 4
		}
		if len(supplies) != want {
			t.Errorf("%d supplies, want %d: %s", len(supplies), want, raw)
			continue
		}
		for _, s := range supplies {
			switch s.State {
			case domain.LevelMeasured:
				if s.Kind != domain.SupplyToner || s.Percent == nil || *s.Percent < 0 || *s.Percent > 100 || s.Colour == "" {
					t.Errorf("measured supply %+v", s)
				}
			case domain.LevelSomeRemaining:
				someRemaining++
				if s.Percent != nil || s.Level == nil || *s.Level != -3 {
					t.Errorf("some remaining %+v", s)
				}
			default:
				t.Errorf("supply state %q", s.State)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if devices != 30 || someRemaining == 0 {
		t.Errorf("%d devices, %d with some remaining", devices, someRemaining)
	}
}
