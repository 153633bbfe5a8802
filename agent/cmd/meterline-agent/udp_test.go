package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/meterline/meterline/agent/internal/fixtures"
	"github.com/meterline/meterline/printersim/sim"
	"github.com/meterline/meterline/printersim/snmprec"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// serveFleet serves the sharp recording and the demo fleet's colour Xerox
// on 127.0.0.1, ports chosen by the system.
func serveFleet(t *testing.T) (*sim.Fleet, []sim.Device) {
	t.Helper()
	recording, err := sim.LoadFile(filepath.Join(fixtures.LibreNMS(t), "sharp.snmprec"))
	if err != nil {
		t.Fatal(err)
	}
	demo := sim.DemoFleet()
	i := slices.IndexFunc(demo, func(d sim.Device) bool { return d.Name() == "xerox_altalink_c8045" })
	if i < 0 {
		t.Fatal("the demo fleet has no xerox_altalink_c8045")
	}
	devs := []sim.Device{recording, demo[i]}
	fleet, err := sim.Serve(t.Context(), devs, sim.Options{Host: "127.0.0.1", BasePort: 0, Community: "public"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Close() })
	return fleet, devs
}

// served returns what device i of the fleet serves at oid.
func served(t *testing.T, fleet *sim.Fleet, i int, oid string) (snmprec.Value, bool) {
	t.Helper()
	return fleet.Value(i, oid)
}

func servedText(t *testing.T, fleet *sim.Fleet, i int, oid string) string {
	v, ok := served(t, fleet, i, oid)
	if !ok {
		return ""
	}
	return strings.Trim(string(v.Bytes), " \x00")
}

func servedNumber(t *testing.T, fleet *sim.Fleet, i int, oid string) (int64, bool) {
	v, ok := served(t, fleet, i, oid)
	if !ok {
		return 0, false
	}
	return v.Number()
}

// suppliesServed lists the prtMarkerSuppliesLevel indexes a device serves.
func suppliesServed(dev sim.Device) []int {
	prefix := "1.3.6.1.2.1.43.11.1.1.9.1."
	var out []int
	for _, r := range dev.Records() {
		if rest, ok := strings.CutPrefix(r.OID.String(), prefix); ok {
			n, _ := strconv.Atoi(rest)
			out = append(out, n)
		}
	}
	return out
}

// TestReadOverUDP runs "read" over real UDP against printersim, with both
// SNMP versions, and checks the read against what the simulator serves.
func TestReadOverUDP(t *testing.T) {
	fleet, devs := serveFleet(t)
	for i, d := range fleet.Devices() {
		for _, version := range []string{"2c", "1"} {
			t.Run(d.Name+"/v"+version, func(t *testing.T) {
				before := fleet.Stats().Received
				res := runApp(t, &app{}, "read", "--target", d.Addr.String(), "--version", version, "--timeout", "2s", "--retries", "1")
				if res.code != 0 {
					t.Fatalf("exit %d: %s", res.code, res.stderr)
				}
				// GetBulk keeps a colour MFP to a handful of round trips
				// (14 for the 13-supply Sharp); v1 has one per value.
				if requests := fleet.Stats().Received - before; version == "2c" && requests > 20 {
					t.Errorf("%d requests for one read with GetBulk", requests)
				}
				var r wire.DeviceRead
				if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
					t.Fatal(err)
				}
				if want := servedText(t, fleet, i, "1.3.6.1.2.1.43.5.1.1.17.1"); r.Serial != want || r.Serial != d.Serial {
					t.Errorf("serial %q, simulator serves %q (fleet says %q)", r.Serial, want, d.Serial)
				}
				if want := servedText(t, fleet, i, "1.3.6.1.2.1.25.3.2.1.3.1"); r.Model != want {
					t.Errorf("model %q, simulator serves %q", r.Model, want)
				}
				total, _ := r.Counter(domain.CounterTotal)
				if want, _ := servedNumber(t, fleet, i, "1.3.6.1.2.1.43.10.2.1.4.1.1"); total != want || total == 0 {
					t.Errorf("total %d, simulator serves %d", total, want)
				}
				var got []int
				for _, s := range r.Supplies {
					got = append(got, s.Index)
					idx := "1." + strconv.Itoa(s.Index)
					level, _ := servedNumber(t, fleet, i, "1.3.6.1.2.1.43.11.1.1.9."+idx)
					capacity, _ := servedNumber(t, fleet, i, "1.3.6.1.2.1.43.11.1.1.8."+idx)
					descr := servedText(t, fleet, i, "1.3.6.1.2.1.43.11.1.1.6."+idx)
					if s.Level == nil || *s.Level != level || s.Capacity == nil || *s.Capacity != capacity || s.Description != descr {
						t.Errorf("supply %d: %q level %v capacity %v; simulator serves %q %d/%d", s.Index, s.Description, s.Level, s.Capacity, descr, level, capacity)
					}
				}
				if want := suppliesServed(devs[i]); !slices.Equal(got, want) {
					t.Errorf("supplies %v, simulator serves %v", got, want)
				}
			})
		}
	}
}

func TestReadWrongCommunity(t *testing.T) {
	fleet, _ := serveFleet(t)
	target := fleet.Devices()[0].Addr.String()
	res := runApp(t, &app{}, "read", "--target", target, "--community", "not-public", "--timeout", "300ms")
	want := "meterline-agent: no SNMP answer from " + target + " within 300ms (wrong address, community or SNMP version?)\n"
	if res.code != 1 || res.stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", res.code, res.stderr, want)
	}
}

// TestReadAgainstSnmpsim reads a recording served by snmpsim, an SNMP
// agent written by others, and expects the very read the golden file
// holds (made through the fake client): the gosnmp client and its walks
// lose nothing on a real wire.
func TestReadAgainstSnmpsim(t *testing.T) {
	bin := os.Getenv("METERLINE_TEST_SNMPSIMD")
	if bin == "" {
		t.Skip("METERLINE_TEST_SNMPSIMD is not set: set it to the snmpsimd executable (Debian package snmpsim installs /usr/bin/snmpsimd) to test against an independent SNMP agent")
	}
	recording := filepath.Join(fixtures.LibreNMS(t), "ricoh_mpc3002.snmprec")
	target := startSnmpsimd(t, bin, []string{recording})
	golden := readGolden(t, "ricoh_mpc3002")
	for _, version := range []string{"2c", "1"} {
		t.Run("v"+version, func(t *testing.T) {
			res := runApp(t, &app{}, "read", "--target", target, "--community", "ricoh_mpc3002", "--version", version, "--retries", "1")
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			var r wire.DeviceRead
			if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
				t.Fatal(err)
			}
			r.Address, r.ReadAt = golden.Address, golden.ReadAt
			if a, b := jsonText(r), jsonText(golden); a != b {
				t.Errorf("read through snmpsim:\n%s\ndiffers from the golden read:\n%s", a, b)
			}
		})
	}
}

func readGolden(t *testing.T, name string) wire.DeviceRead {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var r wire.DeviceRead
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func jsonText(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
