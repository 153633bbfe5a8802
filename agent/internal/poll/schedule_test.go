package poll

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/agent/internal/snmp/snmptest"
	"github.com/meterline/meterline/shared/wire"
)

// roundLog records, on the bubble's fake clock, when each round was
// delivered and what it read.
type roundLog struct {
	mu     sync.Mutex
	start  time.Time
	rounds []string // "+10m0s a,b"
}

func (l *roundLog) Deliver(_ context.Context, reads []wire.DeviceRead) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rounds = append(l.rounds, time.Since(l.start).String()+" "+strings.Join(addresses(reads), ","))
	return nil
}

func (l *roundLog) got() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.rounds)
}

// liveSchedule is a Schedule whose interval and targets a test changes
// while the loop runs, the way remote configuration does.
type liveSchedule struct {
	interval atomic.Int64
	targets  atomic.Pointer[[]string]
	changed  chan struct{}
	wake     chan struct{}
}

func newLiveSchedule(interval time.Duration, targets ...string) *liveSchedule {
	s := &liveSchedule{changed: make(chan struct{}, 1), wake: make(chan struct{}, 1)}
	s.interval.Store(int64(interval))
	s.targets.Store(&targets)
	return s
}

func (s *liveSchedule) schedule() Schedule {
	return Schedule{
		Targets:  func() []string { return *s.targets.Load() },
		Interval: func() time.Duration { return time.Duration(s.interval.Load()) },
		Wake:     s.wake,
		Changed:  s.changed,
	}
}

func (s *liveSchedule) setInterval(d time.Duration) {
	s.interval.Store(int64(d))
	s.changed <- struct{}{}
}

// TestRunScheduleFollowsChanges runs a poll loop on a fake clock
// (testing/synctest) and changes its schedule while it runs: every step
// lets fake time pass, then checks when the rounds ran.
func TestRunScheduleFollowsChanges(t *testing.T) {
	tests := []struct {
		name  string
		steps func(s *liveSchedule)
		want  []string
	}{
		{
			name:  "long interval switched to a short one, due later",
			steps: func(s *liveSchedule) { sleep(time.Minute); s.setInterval(5 * time.Minute); sleep(11 * time.Minute) },
			want:  []string{"0s a", "5m0s a", "10m0s a"},
		},
		{
			name: "a shorter interval already past polls at once",
			steps: func(s *liveSchedule) {
				sleep(10 * time.Minute)
				s.setInterval(time.Minute)
				sleep(90 * time.Second)
			},
			want: []string{"0s a", "10m0s a", "11m0s a"},
		},
		{
			name: "a longer interval pushes the next round back",
			steps: func(s *liveSchedule) {
				s.setInterval(2 * time.Hour)
				sleep(90 * time.Minute)
			},
			want: []string{"0s a"},
		},
		{
			name: "the same interval signalled again changes nothing",
			steps: func(s *liveSchedule) {
				s.setInterval(time.Hour)
				sleep(61 * time.Minute)
			},
			want: []string{"0s a", "1h0m0s a"},
		},
		{
			name: "new targets are read from the next round",
			steps: func(s *liveSchedule) {
				s.targets.Store(&[]string{"a", "b"})
				sleep(61 * time.Minute)
			},
			want: []string{"0s a", "1h0m0s a,b"},
		},
		{
			name: "wake polls at once, and the next round is an interval after it",
			steps: func(s *liveSchedule) {
				sleep(20 * time.Minute)
				s.wake <- struct{}{}
				sleep(70 * time.Minute)
			},
			want: []string{"0s a", "20m0s a", "1h20m0s a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				s := newLiveSchedule(time.Hour, "a")
				log := &roundLog{start: time.Now()}
				done := make(chan error, 1)
				go func() { done <- New(readOK, Options{}, discard).RunSchedule(ctx, s.schedule(), log) }()
				synctest.Wait() // the first round, at once
				tt.steps(s)
				cancel()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				if got := log.got(); !slices.Equal(got, tt.want) {
					t.Errorf("rounds %q, want %q", got, tt.want)
				}
			})
		})
	}
}

// sleep lets fake time pass in the bubble, then lets the loop finish
// whatever that time started.
func sleep(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

func TestRunScheduleNeverSpins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		log := &roundLog{start: time.Now()}
		sched := Schedule{Targets: func() []string { return []string{"a"} }, Interval: func() time.Duration { return 0 }}
		done := make(chan error, 1)
		go func() { done <- New(readOK, Options{}, discard).RunSchedule(ctx, sched, log) }()
		sleep(2500 * time.Millisecond)
		cancel()
		<-done
		if got, want := log.got(), []string{"0s a", "1s a", "2s a"}; !slices.Equal(got, want) {
			t.Errorf("rounds %q, want %q (a zero interval counts as one second)", got, want)
		}
	})
}

func TestCredentialReaderSetCredentials(t *testing.T) {
	fake, err := snmptest.Load(filepath.Join("..", "printer", "testdata", "quirks", "levels.snmprec"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var tried []string
	dial := func(_ context.Context, target string, p snmp.Params) (snmp.Client, error) {
		mu.Lock()
		tried = append(tried, p.Community)
		mu.Unlock()
		if p.Community == "private" {
			return fake, nil
		}
		return nil, &snmp.NoAnswerError{Target: target, Err: errors.New("timeout")}
	}
	office := snmp.Credential{Name: "office", Params: snmp.Params{Version: snmp.Version2c, Community: "public"}}
	back := snmp.Credential{Name: "back-office", Params: snmp.Params{Version: snmp.Version2c, Community: "private"}}
	lab := snmp.Credential{Name: "lab", Params: snmp.Params{Version: snmp.Version2c, Community: "lab"}}
	r := NewCredentialReader(dial, []snmp.Credential{office, back}, time.Now)
	if _, err := r.Read(context.Background(), "p:161"); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name       string
		use        []snmp.Credential
		wantTried  string
		wantWorked string
	}{
		{"what worked is still tried first", []snmp.Credential{lab, back}, "private", "back-office"},
		{"what worked is gone: the new ones, in order", []snmp.Credential{office, lab}, "public lab", ""},
	}
	for _, s := range steps {
		r.SetCredentials(s.use)
		tried = nil
		r.Read(context.Background(), "p:161")
		if got := strings.Join(tried, " "); got != s.wantTried {
			t.Errorf("%s: tried %q, want %q", s.name, got, s.wantTried)
		}
		if got, _ := r.Worked("p:161"); got != s.wantWorked {
			t.Errorf("%s: worked %q, want %q", s.name, got, s.wantWorked)
		}
	}
}
