package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"
	_ "modernc.org/sqlite"

	"github.com/meterline/meterline/printersim/sim"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/schema/schematest"
	"github.com/meterline/meterline/shared/wire"
)

// prtMarkerLifeCount of the first marker: the total every printer reports.
const lifeCountOID = "1.3.6.1.2.1.43.10.2.1.4.1.1"

// TestPipelineMosquittoPostgres runs printersim → agent → Mosquitto →
// collector → PostgreSQL and checks that every simulated printer's stored
// counters equal what the simulator serves.
func TestPipelineMosquittoPostgres(t *testing.T) {
	mqttURL := os.Getenv("METERLINE_TEST_MQTT_URL")
	if mqttURL == "" {
		t.Skip("METERLINE_TEST_MQTT_URL is not set: skipping the Mosquitto end-to-end test (.ci/run sets it)")
	}
	dbURL := schematest.PostgresURL(t)
	runCmd(t, "meterline-collector", "-migrate", "-database", dbURL)
	group := fmt.Sprintf("e2e%d", time.Now().UnixNano())
	start(t, "meterline-collector", "-database", dbURL, "-mqtt", mqttURL, "-share-group", group,
		"-data-dir", t.TempDir(), "-client-id", "collector-"+group)
	checkPipeline(t, mqttURL, dbURL)
}

// TestPipelineEmbedded runs the same path on the single-box defaults: the
// collector's embedded broker and an embedded SQLite database.
func TestPipelineEmbedded(t *testing.T) {
	dataDir := t.TempDir()
	brokerAddr := freeTCPAddr(t)
	start(t, "meterline-collector", "-data-dir", dataDir, "-broker-listen", brokerAddr)
	waitFor(t, "embedded broker listening", 30*time.Second, func() (bool, error) {
		c, err := (&net.Dialer{Timeout: time.Second}).Dial("tcp", brokerAddr)
		if err != nil {
			return false, err
		}
		c.Close()
		return true, nil
	})
	checkPipeline(t, "tcp://"+brokerAddr, "sqlite:"+filepath.Join(dataDir, "meterline.db"))
}

// checkPipeline serves the demo fleet, runs an agent against it and the
// broker, and compares what lands in the database with what is served.
func checkPipeline(t *testing.T, mqttURL, dbURL string) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	fleet, err := sim.Serve(ctx, sim.DemoFleet(), sim.Options{Host: "127.0.0.1", Community: "public"})
	if err != nil {
		t.Fatalf("serve demo fleet: %v", err)
	}
	t.Cleanup(func() { fleet.Close() })
	devices := fleet.Devices()
	if len(devices) < 10 {
		t.Fatalf("demo fleet has %d printers, want at least 10", len(devices))
	}

	agentID := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	var targets []string
	for _, d := range devices {
		targets = append(targets, strconv.Quote(d.Addr.String()))
	}
	conf := filepath.Join(t.TempDir(), "agent.toml")
	writeFile(t, conf, fmt.Sprintf(`agent_id = %q
poll_interval = "2s"
state_dir = %q
targets = [%s]

[mqtt]
url = %q

[snmp]
community = "public"
version = "2c"
`, agentID, filepath.Join(t.TempDir(), "state"), strings.Join(targets, ", "), mqttURL))
	start(t, "meterline-agent", "run", "--config", conf)

	db := openDB(t, dbURL)
	waitFor(t, fmt.Sprintf("a stored read of each of the %d printers", len(devices)), 90*time.Second, func() (bool, error) {
		var n int
		err := db.QueryRow(`SELECT COUNT(*) FROM devices WHERE last_read_at IS NOT NULL AND agent_id = '` + agentID + `'`).Scan(&n)
		return n == len(devices), err
	})
	stored := storedLatest(t, db, agentID)

	for i, d := range devices {
		t.Run(d.Name, func(t *testing.T) {
			// What a user sees with `meterline-agent read`.
			var read wire.DeviceRead
			out := runCmd(t, "meterline-agent", "read", "--target", d.Addr.String(), "--community", "public")
			if err := json.Unmarshal(out, &read); err != nil {
				t.Fatalf("read output is not a device read: %v\n%s", err, out)
			}
			got, ok := stored[read.Key(agentID)]
			if !ok {
				t.Fatalf("no stored device with key %q (stored: %v)", read.Key(agentID), keys(stored))
			}
			// The simulator's own value, independent of the agent.
			served, _ := fleet.Value(i, lifeCountOID)
			servedTotal, _ := served.Number()
			if want, ok := read.Counter(domain.CounterTotal); !ok || got.total == nil || *got.total != want || want != servedTotal {
				t.Errorf("total: stored %v, agent read %d (present %v), simulator serves %d", deref(got.total), want, ok, servedTotal)
			}
			for kind, col := range map[domain.CounterKind]*int64{domain.CounterBlack: got.black, domain.CounterColour: got.colour} {
				want, ok := read.Counter(kind)
				switch {
				case ok && (col == nil || *col != want):
					t.Errorf("%s: stored %v, agent read %d", kind, deref(col), want)
				case !ok && col != nil:
					t.Errorf("%s: stored %d but the device has no such counter", kind, *col)
				}
			}
		})
	}

	// Every batch is stored once: as many stored reads as distinct read times.
	var reads, distinct int
	if err := db.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT CAST(device_id AS TEXT) || '@' || CAST(read_at AS TEXT)) FROM meter_reads WHERE agent_id = '`+agentID+`'`).Scan(&reads, &distinct); err != nil {
		t.Fatal(err)
	}
	if reads != distinct {
		t.Errorf("%d stored reads for %d distinct (device, read time)", reads, distinct)
	}
}

type storedRead struct{ total, black, colour *int64 }

func storedLatest(t *testing.T, db *sql.DB, agentID string) map[string]storedRead {
	t.Helper()
	rows, err := db.Query(`SELECT d.device_key, r.total, r.black, r.colour
		FROM devices d JOIN meter_reads r ON r.device_id = d.id AND r.read_at = d.last_read_at
		WHERE d.agent_id = '` + agentID + `'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]storedRead{}
	for rows.Next() {
		var key string
		var total, black, colour sql.NullInt64
		if err := rows.Scan(&key, &total, &black, &colour); err != nil {
			t.Fatal(err)
		}
		out[key] = storedRead{nullable(total), nullable(black), nullable(colour)}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func openDB(t *testing.T, dbURL string) *sql.DB {
	t.Helper()
	src, err := schema.ParseSource(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(src.Driver, src.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func nullable(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

func deref(p *int64) any {
	if p == nil {
		return "absent"
	}
	return *p
}

func keys(m map[string]storedRead) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
