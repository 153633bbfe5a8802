package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/ready"
)

// bin is where TestMain built the binaries.
var bin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "meterline-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
		"github.com/meterline/meterline/agent/cmd/meterline-agent",
		"github.com/meterline/meterline/collector/cmd/meterline-collector",
		"github.com/meterline/meterline/printersim/cmd/meterline-printersim",
	)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		return 1
	}
	bin = dir
	// Collectors serve /metrics on 127.0.0.1:9464 by default; tests run several at
	// once, so theirs is off unless a test asks for it with -http-listen.
	os.Setenv("METERLINE_HTTP_LISTEN", "off")
	return m.Run()
}

// process is a binary started by a test, stopped when the test ends.
type process struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// start runs bin/name with args; its output is shown when the test fails.
func start(t *testing.T, name string, args ...string) *process {
	t.Helper()
	p := &process{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(bin, name), args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("---- output of %s %s ----\n%s", name, strings.Join(args, " "), p.output())
		}
	})
	return p
}

// startReady starts bin/name with -ready-file and waits until it wrote the
// file (see shared/ready), failing if it exits first or takes longer than
// limit; it returns the process and the addresses it bound.
func startReady(t *testing.T, limit time.Duration, name string, args ...string) (*process, ready.Addrs) {
	t.Helper()
	readyFile := filepath.Join(t.TempDir(), name+".ready.json")
	p := start(t, name, append(args, "-ready-file", readyFile)...)
	var addrs ready.Addrs
	waitFor(t, name+" ready", limit, func() (bool, error) {
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready:\n%s", name, p.output())
		default:
		}
		var err error
		addrs, err = ready.Read(readyFile)
		return err == nil, err
	})
	return p, addrs
}

// stop asks the process to stop (SIGTERM) and kills it after a grace time.
func (p *process) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("%s did not stop within 10s of SIGTERM; killed", p.name)
		p.cmd.Process.Kill()
		<-p.done
	}
}

// runCmd runs bin/name to completion and returns its stdout.
func runCmd(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// freeTCPAddr returns a loopback address nothing listens on right now.
func freeTCPAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitFor polls cond until it returns true or the time is up.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not reached within %s (last error: %v)", what, limit, lastErr)
}
