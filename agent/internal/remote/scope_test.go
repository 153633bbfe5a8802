package remote

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestRemoteScope checks that the collector can point the agent only at
// what its local file allows: its targets (127.0.0.5:161), its ranges
// (127.0.1.0/24) and its remote_allow (127.0.2.0/24). Anything else is
// left out with one reason each, logged and kept for the status; the rest
// of the configuration applies.
func TestRemoteScope(t *testing.T) {
	allow := []string{"127.0.2.0/24"}
	tests := []struct {
		name        string
		payload     string
		wantErr     string
		want        Settings
		wantRefused []string // each a substring of one reason, in order
	}{
		{
			name:    "inside: local target, local range, allow list",
			payload: `{"schema":1,"targets":["127.0.0.5","127.0.1.20:1161","127.0.2.9"],"ranges":["127.0.1.0/25","127.0.2.10-20"]}`,
			want: with(func(s *Settings) {
				s.Targets = []string{"127.0.0.5:161", "127.0.1.20:1161", "127.0.2.9:161"}
				s.Ranges = []string{"127.0.1.0/25", "127.0.2.10-20"}
			}),
		},
		{
			name:    "a foreign host and a foreign range refused, the rest applies",
			payload: `{"schema":1,"poll_interval":"30s","targets":["127.0.0.5","127.0.9.9"],"ranges":["127.0.1.0/24","127.9.0.0/24"]}`,
			want: with(func(s *Settings) {
				s.PollInterval = 30 * time.Second
				s.Targets = []string{"127.0.0.5:161"}
				s.Ranges = []string{"127.0.1.0/24"}
			}),
			wantRefused: []string{`targets[1]: "127.0.9.9:161" is neither`, `ranges[1]: "127.9.0.0/24" is not within`},
		},
		{
			name:    "a range partly outside, a host name not in the file",
			payload: `{"schema":1,"targets":["printer.example"],"ranges":["127.0.0.0/23"]}`,
			want: with(func(s *Settings) {
				s.Targets = []string{}
				s.Ranges = []string{}
			}),
			wantErr:     "nothing would be polled",
			wantRefused: []string{`targets[0]: "printer.example:161"`, `ranges[0]: "127.0.0.0/23"`, "config refused whole"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			c := New(Options{Local: local(), Allow: allow, Log: logs.logger()})
			err := c.ApplyConfig([]byte(tt.payload))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want one saying %q", err, tt.wantErr)
				}
				tt.want = local() // refused whole: the settings stay
			}
			if got := c.Settings(); !got.Equal(tt.want) {
				t.Errorf("settings %+v, want %+v", got, tt.want)
			}
			refused := c.Refused()
			if len(refused) != len(tt.wantRefused) {
				t.Fatalf("refused %q, want %d reasons like %q", refused, len(tt.wantRefused), tt.wantRefused)
			}
			for i, want := range tt.wantRefused {
				if !strings.Contains(refused[i], want) {
					t.Errorf("refused[%d] = %q, want it to say %q", i, refused[i], want)
				}
			}
			if len(refused) > 0 && !strings.Contains(logs.String(), "level=WARN msg=\"remote config: entries refused") {
				t.Errorf("refusal not logged as a warning:\n%s", logs.String())
			}
		})
	}
}

// TestRemoteScopeStatusFollowsTheConfig checks that what Refused reports
// is about the last configuration: one inside the scope, or clearing it,
// leaves nothing refused, and a restart restores the refusals of the
// saved configuration with it.
func TestRemoteScopeStatusFollowsTheConfig(t *testing.T) {
	dir := t.TempDir()
	foreign := `{"schema":1,"targets":["127.0.0.5","127.0.9.9"]}`
	c := New(Options{Local: local(), StateDir: dir, Log: discard})
	if err := c.ApplyConfig([]byte(foreign)); err != nil {
		t.Fatal(err)
	}
	if got := New(Options{Local: local(), StateDir: dir, Log: discard}).Refused(); len(got) != 1 {
		t.Errorf("after a restart, refused %q, want the foreign target", got)
	}
	if err := c.ApplyConfig([]byte(`{"schema":1,"targets":["127.0.0.5"]}`)); err != nil {
		t.Fatal(err)
	}
	if got := c.Refused(); got != nil {
		t.Errorf("refused %q after a config inside the scope, want nothing", got)
	}
	_ = c.ApplyConfig([]byte(foreign))
	if err := c.ApplyConfig(nil); err != nil {
		t.Fatal(err)
	}
	if got := c.Refused(); !reflect.DeepEqual(got, []string(nil)) {
		t.Errorf("refused %q after the config was cleared, want nothing", got)
	}
}
