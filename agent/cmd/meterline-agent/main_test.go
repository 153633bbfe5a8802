package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/agent/internal/config"
	"github.com/meterline/meterline/agent/internal/fixtures"
	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/agent/internal/snmp/snmptest"
	"github.com/meterline/meterline/shared/golden"
	"github.com/meterline/meterline/shared/wire"
)

// result is what one invocation of the program did.
type result struct {
	code           int
	stdout, stderr string
}

// runApp runs the program the way main does, with a's dependencies.
func runApp(t *testing.T, a *app, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a.stdout, a.stderr = &stdout, &stderr
	if a.env.Getenv == nil {
		a.env = config.Env{Getenv: func(string) string { return "" }, Hostname: func() (string, error) { return "test-host", nil }}
	}
	if a.dial == nil {
		a.dial = snmp.Dial
	}
	if a.now == nil {
		a.now = time.Now
	}
	err := a.run(context.Background(), args)
	code := exitCode(err, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

var goldenTime = time.Date(2026, 3, 31, 23, 45, 0, 0, time.UTC)

// TestReadGolden pins the JSON that "read" prints for recordings, read
// through the fake SNMP client: run with -update to rewrite the files
// after a deliberate change, and review the diff.
func TestReadGolden(t *testing.T) {
	librenms := fixtures.LibreNMS(t)
	tests := []struct{ name, path string }{
		{"ricoh_mpc3002", filepath.Join(librenms, "ricoh_mpc3002.snmprec")},
		{"sharp", filepath.Join(librenms, "sharp.snmprec")},
		{"xerox", filepath.Join(librenms, "xerox.snmprec")},
		{"quirks_levels", filepath.Join("..", "..", "internal", "printer", "testdata", "quirks", "levels.snmprec")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, err := snmptest.Load(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			res := runApp(t, &app{dial: fake.Dial, now: func() time.Time { return goldenTime }},
				"read", "--target", "192.0.2.10")
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			golden.Bytes(t, filepath.Join("testdata", "golden", tt.name+".json"), []byte(res.stdout))
			var r wire.DeviceRead
			if err := json.Unmarshal([]byte(res.stdout), &r); err != nil || r.Address != "192.0.2.10:161" {
				t.Errorf("output is not a wire.DeviceRead for the target: %v", err)
			}
		})
	}
}

func TestReadNotAPrinter(t *testing.T) {
	fake, err := snmptest.Load(filepath.Join("..", "..", "internal", "printer", "testdata", "quirks", "not_a_printer.snmprec"))
	if err != nil {
		t.Fatal(err)
	}
	res := runApp(t, &app{dial: fake.Dial}, "read", "--target", "192.0.2.7:16100")
	want := `meterline-agent: 192.0.2.7:16100 answers SNMP but is not a printer (no Printer-MIB, no printer in hrDeviceTable): "Cisco IOS`
	if res.code != 1 || !strings.HasPrefix(res.stderr, want) || strings.Count(res.stderr, "\n") != 1 || res.stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
}

// closedPort returns a UDP port on 127.0.0.1 that nothing listens on: one
// the system handed out and that was closed again.
func closedPort(t *testing.T) int {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	conn.Close()
	return port
}

func TestReadClosedPort(t *testing.T) {
	target := "127.0.0.1:" + strconv.Itoa(closedPort(t))
	res := runApp(t, &app{}, "read", "--target", target, "--timeout", "1s")
	want := "meterline-agent: no SNMP answer from " + target + " within 1s (wrong address, community or SNMP version?)\n"
	if res.code != 1 || res.stderr != want || res.stdout != "" {
		t.Errorf("exit %d\nstderr %q\nwant   %q", res.code, res.stderr, want)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{nil, 2, "", "usage: meterline-agent <command>"},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"read"}, 2, "", "--target is required"},
		{[]string{"read", "--target", "x", "--bogus"}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"read", "--target", "x", "--version", "4"}, 1, "", `--version: SNMP version "4" is not supported`},
		{[]string{"read", "--target", "x", "--version", "3"}, 1, "", "SNMPv3: the SNMPv3 user name is empty"},
		{[]string{"discover"}, 2, "", "--range is required"},
		{[]string{"discover", "--range", "127.0.0.0/8"}, 1, "", `--range: "127.0.0.0/8" is larger than a /16`},
		{[]string{"read", "-h"}, 0, "", "-community"},
		{[]string{"run"}, 2, "", "--config is required"},
		{[]string{"run", "--config", "/nonexistent/agent.toml"}, 1, "", "meterline-agent: read config: open /nonexistent/agent.toml"},
		{[]string{"run", "--config", "x", "--log-level", "loud"}, 1, "", `--log-level: "loud"`},
		{[]string{"version"}, 0, "meterline-agent ", ""},
		{[]string{"help"}, 0, "usage: meterline-agent", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			res := runApp(t, &app{}, tt.args...)
			if res.code != tt.code || !strings.Contains(res.stdout, tt.stdout) || !strings.Contains(res.stderr, tt.stderr) {
				t.Errorf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", res.code, tt.code, res.stdout, tt.stdout, res.stderr, tt.stderr)
			}
		})
	}
}

func TestSampleConfig(t *testing.T) {
	res := runApp(t, &app{}, "-sample-config")
	if res.code != 0 || res.stdout != string(config.Sample()) {
		t.Fatalf("exit %d, output %q", res.code, res.stdout)
	}
	path := filepath.Join(t.TempDir(), "agent.toml")
	if err := os.WriteFile(path, []byte(res.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path, config.Env{Getenv: func(string) string { return "" }, Hostname: os.Hostname}); err != nil {
		t.Errorf("the printed sample does not load: %v", err)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.toml")
	if err := os.WriteFile(path, []byte("targets = [\"127.0.0.1\"]\npoll_interval = \"10ms\"\n[mqtt]\nurll = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := runApp(t, &app{}, "run", "--config", path)
	if res.code != 1 || !strings.Contains(res.stderr, `unknown key "mqtt.urll" at line 4, column 1`) || strings.Count(res.stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q", res.code, res.stderr)
	}
}

// An outbox the system will not open (here a directory in its place; as
// root, a permission error does not happen) stops the agent with an error
// naming it, the file left for the operator: its batches are not lost.
func TestRunOutboxUnopenable(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	box := filepath.Join(state, outboxFile)
	if err := os.MkdirAll(filepath.Join(box, "keep"), 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "agent.toml")
	conf := "agent_id = \"site-1\"\ntargets = [\"127.0.0.1\"]\nstate_dir = " + strconv.Quote(state) + "\n[mqtt]\nurl = \"tcp://127.0.0.1:1\"\n"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	res := runApp(t, &app{}, "run", "--config", path)
	if res.code != 1 || !strings.Contains(res.stderr, box) {
		t.Errorf("exit %d, stderr %q", res.code, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(box, "keep")); err != nil {
		t.Errorf("the outbox path was moved: %v", err)
	}
	if aside, _ := filepath.Glob(box + ".corrupt-*"); len(aside) != 0 {
		t.Errorf("moved aside as corrupt: %v", aside)
	}
}
