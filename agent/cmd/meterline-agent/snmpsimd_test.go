package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/agent/internal/snmp"
)

// startSnmpsimd serves recordings with Debian's snmpsimd, an SNMP agent
// independent of ours, on a free loopback port, and waits until it answers.
// Each recording is served under the community (and SNMPv3 context) of its
// file name without .snmprec; extra holds further flags, such as SNMPv3
// users.
func startSnmpsimd(t *testing.T, bin string, recordings []string, extra ...string) string {
	t.Helper()
	// snmpsimd drops root for nobody, who must read the data and write the
	// cache: a world-readable tree outside t.TempDir's private one.
	root, err := os.MkdirTemp("", "meterline-snmpsim-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	data, cache := filepath.Join(root, "data"), filepath.Join(root, "cache")
	for _, dir := range []string{data, cache} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for path, mode := range map[string]os.FileMode{root: 0o755, cache: 0o777} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, rec := range recordings {
		b, err := os.ReadFile(rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, filepath.Base(rec)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	target := "127.0.0.1:" + strconv.Itoa(closedPort(t))
	args := append([]string{"--data-dir=" + data, "--cache-dir=" + cache, "--agent-udpv4-endpoint=" + target, "--logging-method=null"}, extra...)
	if os.Geteuid() == 0 {
		args = append(args, "--process-user=nobody", "--process-group=nogroup")
	}
	var logs strings.Builder
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	// Ready when it answers a v2c GET; snmpsimd indexes its data first,
	// which takes a while for many recordings (a guard, not an assertion).
	const limit = 120 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	community := strings.TrimSuffix(filepath.Base(recordings[0]), ".snmprec")
	for !answers(ctx, target, community) {
		select {
		case err := <-exited:
			t.Fatalf("snmpsimd exited: %v\n%s", err, logs.String())
		case <-ctx.Done():
			t.Fatalf("snmpsimd did not answer on %s within %s\n%s", target, limit, logs.String())
		default:
		}
	}
	return target
}

func answers(ctx context.Context, target, community string) bool {
	c, err := snmp.Dial(ctx, target, snmp.Params{Version: snmp.Version2c, Community: community, Timeout: 250 * time.Millisecond})
	if err != nil {
		return false
	}
	defer c.Close()
	pdus, err := c.Get(ctx, []string{"1.3.6.1.2.1.1.1.0"})
	if err != nil && !snmp.IsNoAnswer(err) && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintln(os.Stderr, "snmpsimd probe:", err)
	}
	return err == nil && len(pdus) == 1
}
