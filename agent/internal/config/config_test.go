package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/agent/internal/snmp"
)

func testEnv(vars map[string]string) Env {
	return Env{
		Getenv:   func(k string) string { return vars[k] },
		Hostname: func() (string, error) { return "print-box.example.com", nil },
	}
}

func TestSampleIsValid(t *testing.T) {
	c, err := Parse(Sample(), testEnv(nil))
	if err != nil {
		t.Fatalf("the sample config does not load: %v", err)
	}
	// The sample documents the defaults: apart from the targets it lists
	// and the values derived from the host, it must equal Default().
	want := Default()
	want.Targets = []string{"127.0.0.1:16100"}
	want.AgentID = "print-box"
	want.MQTT.ClientID = "meterline-agent-print-box"
	if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", want) {
		t.Errorf("sample config\n got %+v\nwant %+v", c, want)
	}
}

func TestParse(t *testing.T) {
	text := `
agent_id = "site-7"
poll_interval = "1m"
targets = ["192.0.2.10", "192.0.2.11:16100"]
[mqtt]
url = "ssl://broker.example:8883"
username = "site-7"
password = "from-file"
[snmp]
version = 1
community = "file-community"
timeout = "2s"
retries = 0
`
	c, err := Parse([]byte(text), testEnv(map[string]string{EnvMQTTPassword: "from-env"}))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case c.AgentID != "site-7", c.MQTT.ClientID != "meterline-agent-site-7":
		t.Errorf("ids: %q %q", c.AgentID, c.MQTT.ClientID)
	case c.PollInterval.Duration != time.Minute, c.SNMP.Timeout.Duration != 2*time.Second:
		t.Errorf("durations: %s %s", c.PollInterval, c.SNMP.Timeout)
	case c.MQTT.Password.Reveal() != "from-env":
		t.Errorf("password %q: the environment must win", c.MQTT.Password.Reveal())
	case c.SNMP.Community.Reveal() != "file-community":
		t.Errorf("community %q", c.SNMP.Community.Reveal())
	case c.SNMP.Params() != snmp.Params{Version: snmp.Version1, Community: "file-community", Timeout: 2 * time.Second}:
		t.Errorf("params %+v", c.SNMP.Params())
	case strings.Join(c.Targets, " ") != "192.0.2.10:161 192.0.2.11:16100":
		t.Errorf("targets %q, want host:port", c.Targets)
	case c.StateDir != "./state", c.Concurrency != 32:
		t.Errorf("defaults lost: %q %d", c.StateDir, c.Concurrency)
	}
}

func TestUsernameDefaultsToAgentID(t *testing.T) {
	withPassword, err := Parse([]byte("agent_id = \"site-7\"\ntargets = [\"127.0.0.1\"]\n[snmp]\ncommunity = \"public\"\n"),
		testEnv(map[string]string{EnvMQTTPassword: "secret"}))
	if err != nil {
		t.Fatal(err)
	}
	if withPassword.MQTT.Username != "site-7" {
		t.Errorf("username = %q, want the agent id when a password is set", withPassword.MQTT.Username)
	}
	anonymous, err := Parse([]byte("agent_id = \"site-7\"\ntargets = [\"127.0.0.1\"]\n[snmp]\ncommunity = \"public\"\n"), testEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if anonymous.MQTT.Username != "" {
		t.Errorf("username = %q without a password, want none", anonymous.MQTT.Username)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"unknown key with position", "targets = [\"a\"]\n[mqtt]\npasword = \"x\"\n",
			[]string{`unknown key "mqtt.pasword" at line 3, column 1`}},
		{"unknown top-level key", "targets = [\"a\"]\npoll_intervall = \"1m\"\n",
			[]string{`unknown key "poll_intervall" at line 2`}},
		{"bare number duration", "targets = [\"a\"]\npoll_interval = 900\n",
			[]string{"poll_interval: a TOML integer where a string (in quotes) is expected (line 2, column 17)"}},
		{"bad duration", "targets = [\"a\"]\n[snmp]\ntimeout = \"5 seconds\"\n",
			[]string{`snmp.timeout: "5 seconds" is not a duration`}},
		{"targets not a list", "targets = \"a\"\n", []string{"targets: a TOML string where a list is expected"}},
		{"bad version", "targets = [\"a\"]\n[snmp]\nversion = \"3\"\n",
			[]string{"snmp.version", `"3" is not supported`}},
		{"interval too short", "targets = [\"a\"]\npoll_interval = \"500ms\"\n",
			[]string{"poll_interval: 500ms is below the minimum of 1s"}},
		{"no targets", "", []string{"targets: list at least one device"}},
		{"bad and duplicate targets", "targets = [\"a:0\", \"b\", \"b:161\"]\n",
			[]string{"targets[0]:", `targets[2]: "b:161" is the same device as targets[1]`}},
		{"bad agent id", "agent_id = \"a/b\"\ntargets = [\"a\"]\n", []string{`agent_id: "a/b"`}},
		{"bad broker", "targets = [\"a\"]\n[mqtt]\nurl = \"http://x\"\n", []string{"mqtt.url:", "scheme"}},
		{"several problems at once", "targets = [\"a\"]\nconcurrency = 0\n[snmp]\nretries = 99\n",
			[]string{"concurrency: 0", "snmp.retries: 99"}},
		{"not TOML", "targets = [", []string{"line 1"}},
		{"bad remote_allow", "targets = [\"a\"]\nremote_allow = [\"127.0.0.0/8\", \"nowhere\"]\n",
			[]string{"remote_allow:", "larger than a /16", `"nowhere"`}},
		{"TLS files on a plain URL", "targets = [\"a\"]\n[mqtt]\nca_file = \"/dev/null\"\ninsecure_skip_verify = true\n",
			[]string{`mqtt.ca_file: set, but mqtt.url "tcp://127.0.0.1:1883" is not TLS`, "mqtt.insecure_skip_verify: set"}},
		{"cert without key", "targets = [\"a\"]\n[mqtt]\nurl = \"mqtts://b:8883\"\ncert_file = \"/dev/null\"\n",
			[]string{"mqtt.cert_file, mqtt.key_file: give both"}},
		{"missing CA file", "targets = [\"a\"]\n[mqtt]\nurl = \"ssl://b:8883\"\nca_file = \"/nonexistent/ca.pem\"\n",
			[]string{"mqtt.ca_file: open /nonexistent/ca.pem"}},
		{"keepalive too short", "targets = [\"a\"]\n[mqtt]\nkeepalive = \"1s\"\n", []string{"mqtt.keepalive: 1s is not between 5s and 1h"}},
		{"bad reconnect interval", "targets = [\"a\"]\n[mqtt]\nmax_reconnect_interval = \"soon\"\n",
			[]string{`mqtt.max_reconnect_interval: "soon" is not a duration`}},
		{"outbox too small", "targets = [\"a\"]\n[outbox]\nmax_bytes = 1000\n", []string{"outbox.max_bytes: 1000 is below the minimum of 1048576"}},
		{"bad ack timeout", "targets = [\"a\"]\n[outbox]\nack_timeout = \"0s\"\nmax_age = \"1m\"\n",
			[]string{"outbox.ack_timeout: 0s is not between 1s and 1h", "outbox.max_age: 1m0s is below the minimum of 1h"}},
		{"unknown outbox key", "targets = [\"a\"]\n[outbox]\nmax_size = 5\n", []string{`unknown key "outbox.max_size"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.text), testEnv(nil))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestParseUplink(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`targets = ["a"]
[mqtt]
url = "tls://broker.example:8883"
ca_file = %q
cert_file = %q
key_file = %q
keepalive = "30s"
max_reconnect_interval = "10s"
[outbox]
max_bytes = 2097152
max_age = "48h"
ack_timeout = "2m"
`, ca, ca, ca)
	c, err := Parse([]byte(text), testEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := MQTT{URL: "tls://broker.example:8883", ClientID: "meterline-agent-print-box", CAFile: ca, CertFile: ca, KeyFile: ca,
		KeepAlive: Duration{30 * time.Second}, MaxReconnectInterval: Duration{10 * time.Second}}
	if c.MQTT != want {
		t.Errorf("mqtt %+v\nwant %+v", c.MQTT, want)
	}
	if o := (Outbox{MaxBytes: 2 << 20, MaxAge: Duration{48 * time.Hour}, AckTimeout: Duration{2 * time.Minute}}); c.Outbox != o {
		t.Errorf("outbox %+v, want %+v", c.Outbox, o)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.toml")
	if err := os.WriteFile(path, []byte("targets = [\"a\"]\nbogus = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, testEnv(nil))
	if err == nil || !strings.Contains(err.Error(), "config "+path+": unknown key \"bogus\"") {
		t.Errorf("err = %v", err)
	}
	_, err = Load(filepath.Join(t.TempDir(), "missing.toml"), testEnv(nil))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want a wrapped not-exist", err)
	}
}

func TestSecretRedacts(t *testing.T) {
	c := Default()
	c.MQTT.Password = "hunter2"
	c.SNMP.Community = "s3cret-community"
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "mqtt_password", c.MQTT.Password)
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s|%v|%q", c.MQTT.Password, c.SNMP.Community, c.MQTT.Password), string(j), logs.String()} {
		if strings.Contains(out, "hunter2") || strings.Contains(out, "s3cret") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if c.MQTT.Password.Reveal() != "hunter2" {
		t.Error("Reveal lost the value")
	}
}

func TestSanitizeAgentID(t *testing.T) {
	tests := map[string]string{
		"print-box":             "print-box",
		"print-box.example.com": "print-box",
		"PRINT_BOX 2":           "PRINT_BOX-2",
		"ÿÿ":                    "agent",
		"":                      "agent",
		strings.Repeat("a", 80): strings.Repeat("a", 64),
		"-weird-host-":          "weird-host",
	}
	for in, want := range tests {
		if got := SanitizeAgentID(in); got != want {
			t.Errorf("SanitizeAgentID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDiscoveryUDPPort(t *testing.T) {
	for _, tt := range []struct {
		port int
		want uint16
	}{{161, 161}, {1, 1}, {65535, 65535}, {0, snmp.DefaultPort}, {-1, snmp.DefaultPort}, {65536, snmp.DefaultPort}} {
		c := Default()
		c.DiscoveryPort = tt.port
		if got := c.DiscoveryUDPPort(); got != tt.want {
			t.Errorf("DiscoveryUDPPort of %d = %d, want %d", tt.port, got, tt.want)
		}
	}
}
