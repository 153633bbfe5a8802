package poll

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/agent/internal/snmp/snmptest"
	"github.com/meterline/meterline/shared/wire"
)

var discard = slog.New(slog.DiscardHandler)

func readOK(_ context.Context, target string) (wire.DeviceRead, error) {
	return wire.DeviceRead{Address: target, Serial: "SN-" + target}, nil
}

func addresses(reads []wire.DeviceRead) []string {
	var out []string
	for _, r := range reads {
		out = append(out, r.Address)
	}
	return out
}

func TestReadAllKeepsOrderAndIsolatesFailures(t *testing.T) {
	broken := errors.New("no such printer")
	read := func(ctx context.Context, target string) (wire.DeviceRead, error) {
		if target == "b" {
			return wire.DeviceRead{}, broken
		}
		return readOK(ctx, target)
	}
	res := New(read, Options{Concurrency: 2}, discard).ReadAll(context.Background(), []string{"a", "b", "c", "d"})
	if got := addresses(res.Reads); !slices.Equal(got, []string{"a", "c", "d"}) {
		t.Errorf("reads %v", got)
	}
	if len(res.Errors) != 1 || res.Errors[0].Target != "b" || !errors.Is(res.Errors[0], broken) {
		t.Errorf("errors %v", res.Errors)
	}
}

func TestReadAllBoundsConcurrency(t *testing.T) {
	const bound = 3
	var running, peak atomic.Int32
	arrived := make(chan struct{})
	release := make(chan struct{})
	read := func(ctx context.Context, target string) (wire.DeviceRead, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		arrived <- struct{}{}
		<-release
		return readOK(ctx, target)
	}
	targets := []string{"a", "b", "c", "d", "e", "f", "g"}
	done := make(chan Result)
	go func() { done <- New(read, Options{Concurrency: bound}, discard).ReadAll(context.Background(), targets) }()
	for range bound {
		<-arrived // the first reads fill every slot
	}
	close(release)
	for range len(targets) - bound {
		<-arrived
	}
	res := <-done
	if len(res.Reads) != len(targets) {
		t.Fatalf("%d reads, want %d", len(res.Reads), len(targets))
	}
	if got := peak.Load(); got != bound {
		t.Errorf("at most %d reads ran at once, want exactly %d", got, bound)
	}
}

func TestSlowDeviceDoesNotDelayTheOthers(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	fastDone := make(chan string, 3)
	read := func(ctx context.Context, target string) (wire.DeviceRead, error) {
		if target == "slow" {
			<-release // ignores its context, like a wedged socket
			return wire.DeviceRead{}, errors.New("released")
		}
		fastDone <- target
		return readOK(ctx, target)
	}
	done := make(chan Result)
	go func() {
		done <- New(read, Options{Concurrency: 2, DeviceTimeout: 50 * time.Millisecond}, discard).
			ReadAll(context.Background(), []string{"slow", "a", "b", "c"})
	}()
	// All three fast devices finish while the slow one still hangs.
	var fast []string
	for range 3 {
		fast = append(fast, <-fastDone)
	}
	res := <-done
	if got := addresses(res.Reads); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("reads %v (fast devices finished in order %v)", got, fast)
	}
	if len(res.Errors) != 1 || res.Errors[0].Target != "slow" || !errors.Is(res.Errors[0], ErrDeviceTimeout) {
		t.Errorf("errors %v, want the slow device to time out", res.Errors)
	}
}

type recordingSink struct {
	mu      sync.Mutex
	batches [][]wire.DeviceRead
	onSend  func()
}

func (s *recordingSink) Deliver(ctx context.Context, reads []wire.DeviceRead) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.mu.Lock()
	s.batches = append(s.batches, reads)
	s.mu.Unlock()
	if s.onSend != nil {
		s.onSend()
	}
	return nil
}

func TestRunDeliversFirstRoundAtOnceAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sink := &recordingSink{onSend: cancel} // Ctrl-C right while the first round is handed over
	err := New(readOK, Options{}, discard).RunSchedule(ctx, Schedule{
		Targets:  func() []string { return []string{"a", "b"} },
		Interval: func() time.Duration { return time.Hour },
	}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.batches) != 1 || !slices.Equal(addresses(sink.batches[0]), []string{"a", "b"}) {
		t.Errorf("batches %v, want one round with a and b", sink.batches)
	}
}

func TestRoundCutShortSendsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	read := func(ctx context.Context, target string) (wire.DeviceRead, error) {
		if target == "b" {
			cancel() // stop requested in the middle of the round
			return wire.DeviceRead{}, ctx.Err()
		}
		return readOK(ctx, target)
	}
	sink := &recordingSink{}
	New(read, Options{Concurrency: 1}, discard).Round(ctx, []string{"a", "b", "c"}, sink)
	if len(sink.batches) != 0 {
		t.Errorf("sent %v from a round that was stopped", sink.batches)
	}
}

func TestRoundWithNoAnswerSendsNothing(t *testing.T) {
	read := func(context.Context, string) (wire.DeviceRead, error) { return wire.DeviceRead{}, errors.New("down") }
	sink := &recordingSink{}
	New(read, Options{}, discard).Round(context.Background(), []string{"a"}, sink)
	if len(sink.batches) != 0 {
		t.Errorf("sent %v", sink.batches)
	}
}

// TestCredentialReaderDialsAndStamps reads through the dial function with
// the credential's parameters, and stamps the read with its target and
// the time it started.
func TestCredentialReaderDialsAndStamps(t *testing.T) {
	fake, err := snmptest.Load(filepath.Join("..", "printer", "testdata", "quirks", "levels.snmprec"))
	if err != nil {
		t.Fatal(err)
	}
	var gotTarget string
	var gotParams snmp.Params
	dial := func(ctx context.Context, target string, p snmp.Params) (snmp.Client, error) {
		gotTarget, gotParams = target, p
		return fake, nil
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	params := snmp.Params{Version: snmp.Version1, Community: "c", Timeout: time.Second}
	reader := NewCredentialReader(dial, []snmp.Credential{{Name: "c", Params: params}}, func() time.Time { return now })
	r, err := reader.Read(context.Background(), "192.0.2.5:16100")
	if err != nil {
		t.Fatal(err)
	}
	if gotTarget != "192.0.2.5:16100" || gotParams != params {
		t.Errorf("dialled %q with %+v", gotTarget, gotParams)
	}
	if r.Address != "192.0.2.5:16100" || !r.ReadAt.Equal(now.Truncate(time.Second)) || r.Model == "" {
		t.Errorf("read %+v", r)
	}
}
