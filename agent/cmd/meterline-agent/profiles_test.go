package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meterline/meterline/printersim/sim"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// A user's profile for a model the embedded profiles give no vendor black
// meter: here it names the Lexmark's life count as its black meter under a
// site's own source (the embedded read takes it as the mono device's total).
const userProfiles = `
[[profile]]
name = "lexmark_ms621"
vendor = "lexmark"
enterprises = [641]

[[profile.counter]]
kind = "black"
unit = "impressions"
source = "site:lexmark-life-count"
oid = "1.3.6.1.2.1.43.10.2.1.4.1.1"
`

// TestUserProfilesFile reads the demo fleet's Lexmark over UDP with and
// without a user profiles file, through `read --profiles` and through
// `poll` with profiles_file in the config.
func TestUserProfilesFile(t *testing.T) {
	demo := sim.DemoFleet()
	i := slices.IndexFunc(demo, func(d sim.Device) bool { return strings.HasPrefix(d.Name(), "lexmark") })
	if i < 0 {
		t.Fatal("the demo fleet has no Lexmark")
	}
	fleet, err := sim.Serve(t.Context(), demo[i:i+1], sim.Options{Host: "127.0.0.1", Community: "public"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Close() })
	addr := fleet.Devices()[0].Addr.String()
	total, _ := servedNumber(t, fleet, 0, "1.3.6.1.2.1.43.10.2.1.4.1.1")

	dir := t.TempDir()
	profiles := filepath.Join(dir, "profiles.toml")
	if err := os.WriteFile(profiles, []byte(userProfiles), 0o600); err != nil {
		t.Fatal(err)
	}
	// black is the black meter the user profile gives: its value, and
	// whether the read has it from that profile.
	black := func(t *testing.T, out string) (int64, bool) {
		t.Helper()
		var r wire.DeviceRead
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("not a read: %v\n%s", err, out)
		}
		for _, c := range r.Counters {
			if c.Kind == domain.CounterBlack && c.Source == "site:lexmark-life-count" {
				return c.Value, true
			}
		}
		return 0, false
	}

	if res := runApp(t, &app{}, "read", "--target", addr); res.code != 0 {
		t.Fatalf("read: %s", res.stderr)
	} else if _, ok := black(t, res.stdout); ok {
		t.Fatal("the embedded profiles already read this Lexmark's black meter from the user profile's source")
	}
	res := runApp(t, &app{}, "read", "--target", addr, "--profiles", profiles)
	if got, ok := black(t, res.stdout); res.code != 0 || !ok || got != total {
		t.Errorf("read --profiles: black = %d (present %v), want %d; stderr %s", got, ok, total, res.stderr)
	}

	conf := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("agent_id = \"t\"\nprofiles_file = %q\ntargets = [%q]\n", profiles, addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	res = runApp(t, &app{}, "poll", "--config", conf, "--json")
	if got, ok := black(t, res.stdout); res.code != 0 || !ok || got != total {
		t.Errorf("poll with profiles_file: black = %d (present %v), want %d; stderr %s", got, ok, total, res.stderr)
	}

	// A broken profiles file is a clear error, not a silent fallback.
	if err := os.WriteFile(profiles, []byte("[[profile]]\nname = \"x\"\nbogus = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res = runApp(t, &app{}, "read", "--target", addr, "--profiles", profiles)
	if res.code == 0 || !strings.Contains(res.stderr, "profiles") {
		t.Errorf("broken profiles file: code %d, stderr %q", res.code, res.stderr)
	}
}
