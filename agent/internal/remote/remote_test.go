package remote

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meterline/meterline/agent/internal/config"
	"github.com/meterline/meterline/shared/topic"
)

var discard = slog.New(slog.DiscardHandler)

// local are the settings of the agent's own file in these tests.
func local() Settings {
	return Settings{
		PollInterval:      15 * time.Minute,
		DiscoveryInterval: 24 * time.Hour,
		Targets:           []string{"127.0.0.5:161"},
		Ranges:            []string{"127.0.1.0/24"},
		Credentials:       []string{"office", "lab"},
	}
}

// testAllow is the remote_allow of these tests but TestRemoteScope's:
// wide enough for every target and range they send.
var testAllow = []string{"127.0.0.0/16", "127.1.0.0/16"}

// with returns the local settings changed by edit.
func with(edit func(*Settings)) Settings {
	s := local()
	edit(&s)
	return s
}

// logBuffer is a logger whose text a test can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestApplyConfig(t *testing.T) {
	const pollEvery30s = `{"schema":1,"poll_interval":"30s"}`
	tests := []struct {
		name     string
		before   []string // applied first, each must be accepted
		payload  string
		wantErr  string // "" when accepted
		want     Settings
		wantLogs []string
	}{
		{
			name: "every field overridden",
			payload: `{"schema":1,"poll_interval":"30s","discovery_interval":"1h","targets":["127.0.0.7","127.0.0.8:1161"],
				"ranges":["127.1.0.0/24"],"credentials":["lab"]}`,
			want: Settings{
				PollInterval: 30 * time.Second, DiscoveryInterval: time.Hour,
				Targets: []string{"127.0.0.7:161", "127.0.0.8:1161"}, Ranges: []string{"127.1.0.0/24"}, Credentials: []string{"lab"},
			},
			wantLogs: []string{"remote config applied", "poll_interval 15m → 30s", "credentials [office lab] → [lab]"},
		},
		{
			name:    "absent fields keep the local values",
			payload: pollEvery30s,
			want:    with(func(s *Settings) { s.PollInterval = 30 * time.Second }),
		},
		{
			name:    "absent fields are local ones, not the previous remote ones",
			before:  []string{`{"schema":1,"targets":["127.0.0.9"]}`},
			payload: pollEvery30s,
			want:    with(func(s *Settings) { s.PollInterval = 30 * time.Second }),
		},
		{
			name:    "an empty list empties",
			payload: `{"schema":1,"targets":[]}`,
			want:    with(func(s *Settings) { s.Targets = []string{} }),
		},
		{
			name:    "credentials reordered",
			payload: `{"schema":1,"credentials":["lab","office"]}`,
			want:    with(func(s *Settings) { s.Credentials = []string{"lab", "office"} }),
		},
		{
			name:     "fields the collector may not set are ignored",
			payload:  `{"schema":1,"poll_interval":"30s","mqtt_url":"tcp://elsewhere:1883"}`,
			want:     with(func(s *Settings) { s.PollInterval = 30 * time.Second }),
			wantLogs: []string{"ignoring fields the collector may not set", "mqtt_url"},
		},
		{
			name:     "unknown credential refused",
			before:   []string{pollEvery30s},
			payload:  `{"schema":1,"credentials":["office","vault"]}`,
			wantErr:  `credentials[1]: "vault" is not defined in the local configuration file (defined: office, lab)`,
			want:     with(func(s *Settings) { s.PollInterval = 30 * time.Second }),
			wantLogs: []string{"remote config refused; keeping the current settings", "vault"},
		},
		{
			name:    "one invalid field refuses the whole config",
			before:  []string{pollEvery30s},
			payload: `{"schema":1,"poll_interval":"1m","targets":["127.0.0.7"],"ranges":["127.0.0.0/8"]}`,
			wantErr: "ranges:",
			want:    with(func(s *Settings) { s.PollInterval = 30 * time.Second }),
		},
		{
			name:    "poll interval below the minimum",
			payload: `{"schema":1,"poll_interval":"500ms"}`,
			wantErr: "poll_interval: 500ms is below the minimum of 1s",
			want:    local(),
		},
		{
			name:    "discovery interval below the minimum",
			payload: `{"schema":1,"discovery_interval":"10ms"}`,
			wantErr: "discovery_interval:",
			want:    local(),
		},
		{
			name:    "zero interval",
			payload: `{"schema":1,"poll_interval":"0s"}`,
			wantErr: "not a positive duration",
			want:    local(),
		},
		{
			name:    "the same device twice",
			payload: `{"schema":1,"targets":["127.0.0.7","127.0.0.7:161"]}`,
			wantErr: "same device as targets[0]",
			want:    local(),
		},
		{
			name:    "a bad target",
			payload: `{"schema":1,"targets":["127.0.0.7:99999"]}`,
			wantErr: "targets[0]:",
			want:    local(),
		},
		{
			name:    "no credentials",
			payload: `{"schema":1,"credentials":[]}`,
			wantErr: "no credential to try",
			want:    local(),
		},
		{
			name:    "a credential twice",
			payload: `{"schema":1,"credentials":["lab","lab"]}`,
			wantErr: "listed twice",
			want:    local(),
		},
		{
			name:    "nothing left to poll",
			payload: `{"schema":1,"targets":[],"ranges":[]}`,
			wantErr: "nothing would be polled",
			want:    local(),
		},
		{
			name:    "not JSON",
			before:  []string{pollEvery30s},
			payload: `poll faster please`,
			wantErr: "decode:",
			want:    with(func(s *Settings) { s.PollInterval = 30 * time.Second }),
		},
		{
			name:    "another schema version",
			payload: `{"schema":2,"poll_interval":"30s"}`,
			wantErr: "schema version 2",
			want:    local(),
		},
		{
			name:     "empty retained message: back to the local file",
			before:   []string{`{"schema":1,"poll_interval":"30s","targets":["127.0.0.9"],"credentials":["lab"]}`},
			payload:  "",
			want:     local(),
			wantLogs: []string{"remote config cleared: back to the local file", "poll_interval 30s → 15m"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			c := New(Options{Local: local(), Allow: testAllow, Log: logs.logger()})
			for _, p := range tt.before {
				if err := c.ApplyConfig([]byte(p)); err != nil {
					t.Fatalf("before: %v", err)
				}
			}
			err := c.ApplyConfig([]byte(tt.payload))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one saying %q", err, tt.wantErr)
			}
			if got := c.Settings(); !got.Equal(tt.want) {
				t.Errorf("settings %+v, want %+v", got, tt.want)
			}
			for _, want := range tt.wantLogs {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log does not say %q:\n%s", want, logs.String())
				}
			}
		})
	}
}

func TestSettingsIsACopy(t *testing.T) {
	c := New(Options{Local: local(), Allow: testAllow, Log: discard})
	s := c.Settings()
	s.Targets[0] = "changed:161"
	if got := c.Settings().Targets[0]; got != "127.0.0.5:161" {
		t.Errorf("the Controller's targets changed through a copy: %q", got)
	}
}

// received reports whether ch has a value waiting, and takes it.
func received(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestChangesAndTriggers(t *testing.T) {
	pollNow, discoverNow := make(chan struct{}, 1), make(chan struct{}, 1)
	c := New(Options{Local: local(), Allow: testAllow, PollNow: pollNow, DiscoverNow: discoverNow, Log: discard})
	pollLoop, discoveryLoop := c.Changes(), c.Changes()
	steps := []struct {
		name                            string
		payload                         string
		wantChange, wantPoll, wantSweep bool
	}{
		{"interval only", `{"schema":1,"poll_interval":"30s"}`, true, false, false},
		{"the same again, as on every reconnection", `{"schema":1,"poll_interval":"30s"}`, false, false, false},
		{"new targets are polled at once", `{"schema":1,"poll_interval":"30s","targets":["127.0.0.7"]}`, true, true, false},
		{"new credentials are tried at once", `{"schema":1,"poll_interval":"30s","targets":["127.0.0.7"],"credentials":["lab"]}`, true, true, false},
		{"new ranges are swept at once", `{"schema":1,"poll_interval":"30s","targets":["127.0.0.7"],"credentials":["lab"],"ranges":["127.2.0.0/24"]}`, true, false, true},
		{"refused: nothing changes", `{"schema":1,"credentials":["vault"]}`, false, false, false},
		{"cleared: everything back", ``, true, true, true},
	}
	for _, s := range steps {
		c.ApplyConfig([]byte(s.payload))
		for _, got := range []struct {
			what      string
			got, want bool
		}{
			{"poll loop told of a change", received(pollLoop), s.wantChange},
			{"discovery loop told of a change", received(discoveryLoop), s.wantChange},
			{"poll now", received(pollNow), s.wantPoll},
			{"discover now", received(discoverNow), s.wantSweep},
		} {
			if got.got != got.want {
				t.Errorf("%s: %s = %v, want %v", s.name, got.what, got.got, got.want)
			}
		}
	}
}

func TestRemoteConfigSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	saved := filepath.Join(dir, StateFile)
	remote := `{"schema":1,"poll_interval":"30s","targets":[],"credentials":["lab"]}`
	want := with(func(s *Settings) { s.PollInterval, s.Targets, s.Credentials = 30*time.Second, nil, []string{"lab"} })

	first := New(Options{Local: local(), Allow: testAllow, StateDir: dir, Log: discard})
	if err := first.ApplyConfig([]byte(remote)); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	restarted := New(Options{Local: local(), Allow: testAllow, StateDir: dir, Log: logs.logger()})
	if got := restarted.Settings(); !got.Equal(want) {
		t.Errorf("after a restart: %+v, want the remote settings %+v", got, want)
	}
	if !strings.Contains(logs.String(), "remote config restored") {
		t.Errorf("the restore is not logged:\n%s", logs.String())
	}

	// The local file changed meanwhile: the saved config names a
	// credential it no longer defines, so the file's settings win.
	fewer := with(func(s *Settings) { s.Credentials = []string{"office"} })
	if got := New(Options{Local: fewer, Allow: testAllow, StateDir: dir, Log: discard}).Settings(); !got.Equal(fewer) {
		t.Errorf("saved config naming a removed credential: %+v, want the local settings", got)
	}

	// Cleared by the collector: the file goes, and so does the config.
	if err := restarted.ApplyConfig(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(saved); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("saved config still there after a clear: %v", err)
	}
	if got := New(Options{Local: local(), Allow: testAllow, StateDir: dir, Log: discard}).Settings(); !got.Equal(local()) {
		t.Errorf("after a clear and a restart: %+v, want the local settings", got)
	}

	// A damaged file is set aside.
	if err := os.WriteFile(saved, []byte("{half a"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := New(Options{Local: local(), Allow: testAllow, StateDir: dir, Log: discard}).Settings(); !got.Equal(local()) {
		t.Errorf("damaged saved config: %+v, want the local settings", got)
	}
}

func TestRefusedConfigIsNotSaved(t *testing.T) {
	dir := t.TempDir()
	c := New(Options{Local: local(), Allow: testAllow, StateDir: dir, Log: discard})
	if err := c.ApplyConfig([]byte(`{"schema":1,"poll_interval":"30s"}`)); err != nil {
		t.Fatal(err)
	}
	c.ApplyConfig([]byte(`{"schema":1,"credentials":["vault"]}`))
	got := New(Options{Local: local(), Allow: testAllow, StateDir: dir, Log: discard}).Settings()
	if want := with(func(s *Settings) { s.PollInterval = 30 * time.Second }); !got.Equal(want) {
		t.Errorf("after a refused config and a restart: %+v, want the last accepted one %+v", got, want)
	}
}

func TestCommands(t *testing.T) {
	pollNow, discoverNow := make(chan struct{}, 1), make(chan struct{}, 1)
	c := New(Options{Local: local(), Allow: testAllow, PollNow: pollNow, DiscoverNow: discoverNow, Log: discard})
	steps := []struct {
		name                string
		payload             string
		wantErr             bool
		wantPoll, wantSweep bool
	}{
		{"poll now", `{"schema":1,"id":"c-1","name":"poll_now","at":"2026-11-02T09:30:00Z"}`, false, true, false},
		{"poll now delivered again", `{"schema":1,"id":"c-1","name":"poll_now","at":"2026-11-02T09:30:00Z"}`, false, false, false},
		{"discover now", `{"schema":1,"id":"c-2","name":"discover_now"}`, false, false, true},
		{"an id is an id, whatever the command", `{"schema":1,"id":"c-2","name":"poll_now"}`, false, false, false},
		{"no id: run, as it cannot be told from another", `{"schema":1,"name":"poll_now"}`, false, true, false},
		{"no id again", `{"schema":1,"name":"poll_now"}`, false, true, false},
		{"unknown command", `{"schema":1,"id":"c-3","name":"reboot"}`, true, false, false},
		{"garbage", `%%%`, true, false, false},
		{"empty", ``, true, false, false},
		{"another schema version", `{"schema":7,"id":"c-4","name":"poll_now"}`, true, false, false},
		{"a new id runs", `{"schema":1,"id":"c-5","name":"poll_now"}`, false, true, false},
	}
	for _, s := range steps {
		err := c.HandleCommand([]byte(s.payload))
		if (err != nil) != s.wantErr {
			t.Errorf("%s: error %v, want one: %v", s.name, err, s.wantErr)
		}
		if got := received(pollNow); got != s.wantPoll {
			t.Errorf("%s: poll now %v, want %v", s.name, got, s.wantPoll)
		}
		if got := received(discoverNow); got != s.wantSweep {
			t.Errorf("%s: discover now %v, want %v", s.name, got, s.wantSweep)
		}
	}
}

func TestBurstOfCommandsMakesOneRound(t *testing.T) {
	pollNow := make(chan struct{}, 1)
	c := New(Options{Local: local(), Allow: testAllow, PollNow: pollNow, Log: discard})
	for _, id := range []string{"a", "b", "c"} {
		if err := c.HandleCommand([]byte(`{"schema":1,"id":"` + id + `","name":"poll_now"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if !received(pollNow) || received(pollNow) {
		t.Error("three poll_now while the poller is busy should make exactly one pending round")
	}
}

func TestCommandNotWired(t *testing.T) {
	c := New(Options{Local: local(), Allow: testAllow, Log: discard})
	if err := c.HandleCommand([]byte(`{"schema":1,"id":"c-1","name":"discover_now"}`)); err == nil {
		t.Error("discover_now with no DiscoverNow channel: no error")
	}
}

func TestRecentIDsForgetsTheOldest(t *testing.T) {
	r := newRecentIDs(3)
	for _, id := range []string{"a", "b", "c", "d"} {
		if !r.add(id) {
			t.Fatalf("%s: not new", id)
		}
	}
	for _, step := range []struct {
		id      string
		wantNew bool
	}{{"d", false}, {"b", false}, {"a", true}} {
		if got := r.add(step.id); got != step.wantNew {
			t.Errorf("add(%s) = %v, want %v", step.id, got, step.wantNew)
		}
	}
	if len(r.set) != 3 {
		t.Errorf("remembers %d ids, want at most 3", len(r.set))
	}
}

// fakeSubscriber hands messages to the handlers subscribed, as the uplink
// does.
type fakeSubscriber map[topic.Kind]func([]byte)

func (f fakeSubscriber) Subscribe(kind topic.Kind, handle func([]byte)) { f[kind] = handle }

func TestAttach(t *testing.T) {
	pollNow := make(chan struct{}, 1)
	c := New(Options{Local: local(), Allow: testAllow, PollNow: pollNow, Log: discard})
	sub := fakeSubscriber{}
	c.Attach(sub)
	if got := slices.Sorted(maps.Keys(sub)); !slices.Equal(got, []topic.Kind{topic.Commands, topic.Config}) {
		t.Fatalf("subscribed to %v", got)
	}
	sub[topic.Config]([]byte(`{"schema":1,"poll_interval":"1m"}`))
	sub[topic.Commands]([]byte(`{"schema":1,"id":"x","name":"poll_now"}`))
	if got := c.Settings().PollInterval; got != time.Minute {
		t.Errorf("poll interval %s after the config topic said 1m", got)
	}
	if !received(pollNow) {
		t.Error("poll_now on the commands topic did not ask for a round")
	}
}

func TestLocalSettings(t *testing.T) {
	cfg, err := config.Parse([]byte(`
agent_id = "a1"
poll_interval = "5m"
discovery_interval = "12h"
targets = ["127.0.0.5"]
ranges = ["127.0.1.0/24"]
[[credentials]]
name = "office"
version = "2c"
community = "public"
[[credentials]]
name = "lab"
version = "2c"
community = "lab"
`), config.Env{})
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		PollInterval: 5 * time.Minute, DiscoveryInterval: 12 * time.Hour,
		Targets: []string{"127.0.0.5:161"}, Ranges: []string{"127.0.1.0/24"}, Credentials: []string{"office", "lab"},
	}
	if got := LocalSettings(cfg); !got.Equal(want) {
		t.Errorf("%+v, want %+v", got, want)
	}
	picked := SelectCredentials(cfg.SNMPCredentials(), []string{"lab", "vault", "office"})
	var names []string
	for _, c := range picked {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"lab", "office"}) || picked[0].Params.Community != "lab" {
		t.Errorf("SelectCredentials picked %v", names)
	}
}
