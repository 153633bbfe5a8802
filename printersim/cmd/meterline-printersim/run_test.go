package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// output collects run's stdout and signals when the fleet is up.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	serving chan struct{}
	once    sync.Once
}

func newOutput() *output { return &output{serving: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if strings.Contains(o.buf.String(), "serving ") {
		o.once.Do(func() { close(o.serving) })
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// startRun runs the command until the test ends and waits for it to serve.
func startRun(t *testing.T, args ...string) *output {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := newOutput()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, out, &stderr) }()
	select {
	case <-out.serving:
	case err := <-done:
		t.Fatalf("run ended early: %v\nstderr: %s", err, stderr.String())
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v after cancel", err)
		}
	})
	return out
}

func TestRunServesDemoFleet(t *testing.T) {
	manifestPath := filepath.Join(t.TempDir(), "fleet.json")
	out := startRun(t, "-port", "0", "-count", "20", "-rate", "30", "-manifest", manifestPath, "-log-level", "warn")

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 21 || lines[20] != "serving 20 printers" {
		t.Fatalf("stdout:\n%s", out)
	}
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	var manifest []manifestEntry
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) != 20 {
		t.Fatalf("manifest has %d devices, want 20", len(manifest))
	}
	serials := map[string]bool{}
	for i, d := range manifest {
		if d.Name == "" || d.Serial == "" || serials[d.Serial] {
			t.Errorf("manifest entry %d: %+v", i, d)
		}
		serials[d.Serial] = true
		if !strings.HasPrefix(lines[i], d.Address+" ") || !strings.HasSuffix(lines[i], d.Serial) {
			t.Errorf("stdout line %q does not match manifest %+v", lines[i], d)
		}
	}

	addr, err := netip.ParseAddrPort(manifest[0].Address)
	if err != nil {
		t.Fatal(err)
	}
	c := &gosnmp.GoSNMP{Target: addr.Addr().String(), Port: addr.Port(), Community: "public", Version: gosnmp.Version2c, Timeout: 5 * time.Second}
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	defer c.Conn.Close()
	pkt, err := c.Get([]string{".1.3.6.1.2.1.43.10.2.1.4.1.1"})
	if err != nil || pkt.Variables[0].Type != gosnmp.Counter32 {
		t.Fatalf("Get prtMarkerLifeCount: %v %+v", err, pkt)
	}
}

func TestRunServesRecordings(t *testing.T) {
	dir := t.TempDir()
	recording := "1.3.6.1.2.1.1.1.0|4|Test printer\n1.3.6.1.2.1.43.5.1.1.17.1|4|REC0001\n"
	if err := os.WriteFile(filepath.Join(dir, "one.snmprec"), []byte(recording), 0o644); err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(t.TempDir(), "two.snmprec")
	if err := os.WriteFile(extra, []byte("1.3.6.1.2.1.1.1.0|4|Another\n1.3.6.1.2.1.1.3.0|67|oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := startRun(t, "-port", "0", "-dir", dir, "-skip-bad-lines", "-log-level", "error", extra)
	if !strings.Contains(out.String(), "REC0001") || !strings.Contains(out.String(), "serving 2 printers") {
		t.Errorf("stdout:\n%s", out)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.snmprec")
	if err := os.WriteFile(bad, []byte("1.3.6.1.2.1.1.1.0|4|ok\n1.3.6.1.2.1.1.3.0|67|oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown fleet", []string{"-fleet", "office"}, `unknown fleet "office"`},
		{"negative count", []string{"-count", "-3"}, "-count must not be negative"},
		{"missing dir", []string{"-dir", filepath.Join(dir, "nope")}, "no such file"},
		{"empty dir", []string{"-dir", t.TempDir()}, "no *.snmprec files"},
		{"bad recording names file and line", []string{bad}, "bad.snmprec:2:"},
		{"bad log level", []string{"-log-level", "loud"}, "loud"},
		{"bad host", []string{"-host", "printer.example", "-port", "0"}, "host must be an IP address"},
		{"unknown flag", []string{"-colour"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(t.Context(), tt.args, io.Discard, &stderr)
			if err == nil {
				t.Fatal("run succeeded")
			}
			if msg := err.Error() + stderr.String(); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("error %q (stderr %q), want it to mention %q", err, stderr.String(), tt.wantErr)
			}
		})
	}
	if err := run(t.Context(), []string{"-h"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v, want flag.ErrHelp", err)
	}
}
