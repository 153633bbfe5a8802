package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meterline/meterline/agent/internal/config"
	"github.com/meterline/meterline/agent/internal/discover"
	"github.com/meterline/meterline/agent/internal/fixtures"
	"github.com/meterline/meterline/agent/internal/remote"
	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/printersim/sim"
	"github.com/meterline/meterline/printersim/snmprec"
	"github.com/meterline/meterline/shared/wire"
)

// standardSerialPrinters are demo printers whose serial number is in the
// Printer-MIB, which a read finds without vendor profiles.
func standardSerialPrinters(t *testing.T) []sim.Device {
	t.Helper()
	var out []sim.Device
	for _, d := range sim.DemoFleet() {
		for _, r := range d.Records() {
			if r.OID.String() == "1.3.6.1.2.1.43.5.1.1.17.1" && len(r.Value.Bytes) > 0 {
				out = append(out, d)
				break
			}
		}
	}
	if len(out) < 4 {
		t.Fatalf("the demo fleet has %d printers with a Printer-MIB serial, want 4", len(out))
	}
	return out
}

// plainHostDevice answers SNMP with the system group only: no printer.
func plainHostDevice(t *testing.T) sim.Device {
	t.Helper()
	records, err := snmprec.Parse(strings.NewReader("1.3.6.1.2.1.1.1.0|4|Linux files 6.1.0\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.8072.3.2.10\n"), "plain-host")
	if err != nil {
		t.Fatal(err)
	}
	d, err := sim.NewDevice("plain-host", records)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// servePerAddress serves devs on 127.0.1.1, 127.0.1.2, … on one free port.
func servePerAddress(t *testing.T, devs []sim.Device, community string) *sim.Fleet {
	t.Helper()
	var lastErr error
	for range 5 {
		conn, err := net.ListenPacket("udp4", "127.0.1.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := conn.LocalAddr().(*net.UDPAddr).Port
		conn.Close()
		fleet, err := sim.Serve(t.Context(), devs, sim.Options{Host: "127.0.1.1", PerAddress: true, BasePort: port, Community: community})
		if err != nil {
			lastErr = err // free on .1, taken on another address: try another
			continue
		}
		t.Cleanup(func() { fleet.Close() })
		return fleet
	}
	t.Fatalf("serve the fleet: %v", lastErr)
	return nil
}

func serveAt(t *testing.T, dev sim.Device, addr string, port uint16, community string) *sim.Fleet {
	t.Helper()
	fleet, err := sim.Serve(t.Context(), []sim.Device{dev}, sim.Options{Host: addr, BasePort: int(port), Community: community})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Close() })
	return fleet
}

// discoverySite serves, on 127.0.1.x: two printers and a plain host
// answering "public" (.1-.3), the first printer again (.4), and a printer
// answering only "private" (.6).
func discoverySite(t *testing.T) (public, private *sim.Fleet, port uint16) {
	printers := standardSerialPrinters(t)
	twin, err := sim.NewDevice("twin", printers[0].Records())
	if err != nil {
		t.Fatal(err)
	}
	public = servePerAddress(t, []sim.Device{printers[0], printers[1], plainHostDevice(t), twin}, "public")
	port = public.Devices()[0].Addr.Port()
	private = serveAt(t, printers[2], "127.0.1.6", port, "private")
	return public, private, port
}

func TestDiscoverCommandTable(t *testing.T) {
	public, _, port := discoverySite(t)
	res := runApp(t, &app{}, "discover", "--range", "127.0.1.1-127.0.1.8", "--port", strconv.Itoa(int(port)), "--timeout", "300ms")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	devs := public.Devices()
	lines := strings.Split(strings.TrimRight(res.stdout, "\n"), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "ADDRESS") || !strings.Contains(lines[0], "CREDENTIAL  SERIAL") {
		t.Fatalf("table:\n%s", res.stdout)
	}
	for i, want := range []sim.DeviceInfo{devs[0], devs[1]} {
		if f := strings.Fields(lines[1+i]); f[0] != want.Addr.String() || f[1] != "v2c" || f[2] != want.Serial {
			t.Errorf("line %q, want %s v2c %s", lines[1+i], want.Addr, want.Serial)
		}
	}
	// Community "public" finds neither the plain host nor the "private"
	// printer; the twin is the printer of .1.
	if want := "8 addresses probed, 4 answered SNMP, 2 printers (1 more addresses of the same printers)"; lines[4] != want {
		t.Errorf("summary %q, want %q", lines[4], want)
	}
}

// TestDiscoverCommandConfig sweeps with the credentials of a configuration
// file and prints JSON lines: each printer with the credential that works.
func TestDiscoverCommandConfig(t *testing.T) {
	public, private, port := discoverySite(t)
	path := filepath.Join(t.TempDir(), "agent.toml")
	text := fmt.Sprintf(`ranges = ["127.0.1.1-127.0.1.8"]
discovery_port = %d
discovery_timeout = "300ms"
[[credentials]]
name = "office"
version = "2c"
community = "public"
[[credentials]]
name = "back-office"
version = "2c"
[mqtt]
url = "tcp://127.0.0.1:1883"
`, port)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &app{env: config.Env{
		Getenv: func(k string) string {
			return map[string]string{"METERLINE_CREDENTIAL_BACK_OFFICE_COMMUNITY": "private"}[k]
		},
		Hostname: func() (string, error) { return "test-host", nil },
	}}
	res := runApp(t, a, "discover", "--config", path, "--json")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var got []discover.Device
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var d discover.Device
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, d)
	}
	want := []string{
		public.Devices()[0].Addr.String() + " office " + public.Devices()[0].Serial,
		public.Devices()[1].Addr.String() + " office " + public.Devices()[1].Serial,
		private.Devices()[0].Addr.String() + " back-office " + private.Devices()[0].Serial,
	}
	var gotText []string
	for _, d := range got {
		gotText = append(gotText, d.Address+" "+d.Credential+" "+d.Serial)
		if d.Vendor == "" || d.Model == "" {
			t.Errorf("%s: no vendor or model", d.Address)
		}
	}
	if !slices.Equal(gotText, want) {
		t.Errorf("found %q, want %q", gotText, want)
	}
	if want := "8 addresses probed, 5 answered SNMP, 3 printers (1 more addresses of the same printers)\n"; res.stderr != want {
		t.Errorf("stderr %q, want the summary %q", res.stderr, want)
	}
	if strings.Contains(res.stdout+res.stderr, "private") {
		t.Error("the community was printed")
	}
}

// recordingSink keeps every read delivered, for tests.
type recordingSink struct {
	mu      sync.Mutex
	rounds  [][]wire.DeviceRead
	changed chan struct{}
}

func newRecordingSink() *recordingSink { return &recordingSink{changed: make(chan struct{}, 1)} }

func (s *recordingSink) Deliver(_ context.Context, reads []wire.DeviceRead) error {
	s.mu.Lock()
	s.rounds = append(s.rounds, reads)
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return nil
}

// waitFor waits until a delivered round satisfies ok; the long bound only
// keeps a broken test from hanging.
func (s *recordingSink) waitFor(t *testing.T, what string, ok func([]wire.DeviceRead) bool) []wire.DeviceRead {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		s.mu.Lock()
		for _, round := range s.rounds {
			if ok(round) {
				s.mu.Unlock()
				return round
			}
		}
		s.mu.Unlock()
		select {
		case <-s.changed:
		case <-deadline:
			t.Fatalf("no round with %s was delivered", what)
			return nil
		}
	}
}

func serials(reads []wire.DeviceRead) map[string]int {
	out := map[string]int{}
	for _, r := range reads {
		out[r.Serial]++
	}
	return out
}

// TestServeRediscovers runs the daemon's polling with discovery every
// second: the printers of the range are polled with the credential that
// works, a static target that discovery also finds is polled once, and a
// printer switched on after start is picked up by a later sweep.
func TestServeRediscovers(t *testing.T) {
	public, private, port := discoverySite(t)
	devs := public.Devices()
	cfg := config.Default()
	cfg.AgentID = "test-agent"
	cfg.PollInterval = config.Duration{Duration: time.Second}
	cfg.DiscoveryInterval = config.Duration{Duration: time.Second}
	cfg.DiscoveryTimeout = config.Duration{Duration: 300 * time.Millisecond}
	cfg.DiscoveryPort = int(port)
	cfg.Ranges = []string{"127.0.1.1-127.0.1.8"}
	cfg.Targets = []string{devs[1].Addr.String()}
	cfg.SNMP.Timeout = config.Duration{Duration: time.Second}
	cfg.Credentials = []config.Credential{
		{Name: "office", Version: config.Version{Version: snmp.Version2c}, Community: "public"},
		{Name: "back-office", Version: config.Version{Version: snmp.Version2c}, Community: "private"},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sink := newRecordingSink()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		a := &app{stdout: logs, stderr: logs, dial: snmp.Dial, now: time.Now}
		rc := remote.New(remote.Options{Local: remote.LocalSettings(cfg)})
		sched := schedule{pollNow: make(chan struct{}, 1), discoverNow: make(chan struct{}, 1)}
		done <- a.serve(ctx, cfg, rc, sched, sink, newLogger(logs, -4))
	}()

	first := []string{devs[0].Serial, devs[1].Serial, private.Devices()[0].Serial}
	round := sink.waitFor(t, "the three printers of the range", func(reads []wire.DeviceRead) bool {
		s := serials(reads)
		return s[first[0]] == 1 && s[first[1]] == 1 && s[first[2]] == 1
	})
	if len(round) != 3 {
		t.Errorf("round of %d reads: %v; want each printer once (the target is also found by discovery, the twin is the first printer)", len(round), serials(round))
	}

	// A printer switched on after start, in the range.
	late := serveAt(t, standardSerialPrinters(t)[3], "127.0.1.8", port, "public")
	lateSerial := late.Devices()[0].Serial
	sink.waitFor(t, "the printer switched on after start", func(reads []wire.DeviceRead) bool { return serials(reads)[lateSerial] == 1 })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not stop\n%s", logs)
	}
	if !strings.Contains(logs.String(), `"credential":"back-office"`) {
		t.Errorf("the discovered printer's credential is not logged:\n%s", logs)
	}
}

// TestReadSNMPv3AgainstSnmpsim reads a recording over SNMPv3 from snmpsim,
// an independent agent, at every security level and with SHA-1 and SHA-2,
// and checks that a wrong key fails at once with an error saying so.
func TestReadSNMPv3AgainstSnmpsim(t *testing.T) {
	bin := os.Getenv("METERLINE_TEST_SNMPSIMD")
	if bin == "" {
		t.Skip("METERLINE_TEST_SNMPSIMD is not set: set it to the snmpsimd executable (Debian package snmpsim installs /usr/bin/snmpsimd) to test SNMPv3 against an independent SNMP agent")
	}
	recording := filepath.Join(fixtures.LibreNMS(t), "ricoh_mpc3002.snmprec")
	target := startSnmpsimd(t, bin, []string{recording}, []string{
		"--v3-user=sha-aes", "--v3-auth-key=auth-pass-1", "--v3-auth-proto=SHA", "--v3-priv-key=priv-pass-1", "--v3-priv-proto=AES",
		"--v3-user=sha256-aes256", "--v3-auth-key=auth-pass-256", "--v3-auth-proto=SHA256", "--v3-priv-key=priv-pass-256", "--v3-priv-proto=AES256",
		"--v3-user=sha512-des", "--v3-auth-key=auth-pass-512", "--v3-auth-proto=SHA512", "--v3-priv-key=priv-pass-des", "--v3-priv-proto=DES",
		"--v3-user=md5-only", "--v3-auth-key=auth-pass-md5", "--v3-auth-proto=MD5",
		"--v3-user=no-auth",
	}...)
	wantSerial := readGolden(t, "ricoh_mpc3002").Serial
	v3 := []string{"read", "--target", target, "--version", "3", "--context", "ricoh_mpc3002", "--timeout", "2s"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // stderr; empty for a successful read
	}{
		{"authPriv SHA AES", []string{"--user", "sha-aes", "--security-level", "authPriv", "--auth-protocol", "SHA", "--auth-passphrase", "auth-pass-1", "--priv-protocol", "AES", "--priv-passphrase", "priv-pass-1"}, nil, ""},
		{"authPriv SHA-256 AES-256, passphrases from the environment", []string{"--user", "sha256-aes256", "--auth-protocol", "SHA-256", "--priv-protocol", "AES-256"},
			map[string]string{config.EnvSNMPAuthPassphrase: "auth-pass-256", config.EnvSNMPPrivPassphrase: "priv-pass-256"}, ""},
		{"authPriv SHA-512 DES", []string{"--user", "sha512-des", "--auth-protocol", "SHA-512", "--auth-passphrase", "auth-pass-512", "--priv-protocol", "DES", "--priv-passphrase", "priv-pass-des"}, nil, ""},
		{"authNoPriv MD5", []string{"--user", "md5-only", "--security-level", "authNoPriv", "--auth-protocol", "MD5", "--auth-passphrase", "auth-pass-md5"}, nil, ""},
		{"noAuthNoPriv", []string{"--user", "no-auth", "--security-level", "noAuthNoPriv"}, nil, ""},
		{"wrong auth passphrase", []string{"--user", "sha-aes", "--auth-passphrase", "wrong-pass-1", "--priv-passphrase", "priv-pass-1"}, nil,
			`meterline-agent: SNMPv3 authentication failed for user "sha-aes" at ` + target + ": wrong authentication passphrase or protocol\n"},
		{"wrong priv passphrase", []string{"--user", "sha-aes", "--auth-passphrase", "auth-pass-1", "--priv-passphrase", "wrong-pass-1"}, nil,
			`meterline-agent: SNMPv3 authentication failed for user "sha-aes" at ` + target + ": the agent answered engine discovery but not the request"},
		{"unknown user", []string{"--user", "stranger", "--auth-passphrase", "auth-pass-1", "--priv-passphrase", "priv-pass-1"}, nil,
			`meterline-agent: SNMPv3 authentication failed for user "stranger" at ` + target},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &app{env: config.Env{Getenv: func(k string) string { return tt.env[k] }, Hostname: os.Hostname}}
			res := runApp(t, a, append(slices.Clone(v3), tt.args...)...)
			if tt.want != "" {
				if res.code != 1 || !strings.HasPrefix(res.stderr, tt.want) || strings.Count(res.stderr, "\n") != 1 {
					t.Errorf("exit %d, stderr %q; want %q", res.code, res.stderr, tt.want)
				}
				for _, secret := range []string{"wrong-pass-1", "auth-pass-1", "priv-pass-1"} {
					if strings.Contains(res.stderr, secret) {
						t.Errorf("a passphrase was printed: %s", res.stderr)
					}
				}
				return
			}
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			var r wire.DeviceRead
			if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
				t.Fatal(err)
			}
			if r.Serial != wantSerial || r.Serial == "" {
				t.Errorf("serial %q, want the recording's %q", r.Serial, wantSerial)
			}
		})
	}
}
