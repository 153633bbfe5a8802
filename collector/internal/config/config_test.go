package config

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meterline/meterline/shared/topic"
)

// env returns a getenv over the map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParse(t *testing.T) {
	passwordFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(passwordFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{"defaults", nil, nil, func(t *testing.T, c Config) {
			if c.DatabaseURL != "sqlite:"+filepath.Join("data", "meterline.db") || !c.DatabaseDefaulted {
				t.Errorf("database = %q (defaulted %v), want sqlite:data/meterline.db", c.DatabaseURL, c.DatabaseDefaulted)
			}
			if !c.EmbeddedBroker() || c.BrokerListen != ":1883" {
				t.Errorf("broker: embedded %v on %q, want embedded on :1883", c.EmbeddedBroker(), c.BrokerListen)
			}
			if c.ShareGroup != topic.DefaultShareGroup {
				t.Errorf("share group = %q", c.ShareGroup)
			}
			if !strings.HasPrefix(c.ClientID, "meterline-collector-") {
				t.Errorf("client id = %q", c.ClientID)
			}
			if c.LogLevel != slog.LevelInfo || c.LogFormat != LogText {
				t.Errorf("log = %v %s", c.LogLevel, c.LogFormat)
			}
		}},
		{"data dir moves the default database", []string{"-data-dir", "/var/lib/meterline"}, nil, func(t *testing.T, c Config) {
			if c.DatabaseURL != "sqlite:/var/lib/meterline/meterline.db" {
				t.Errorf("database = %q", c.DatabaseURL)
			}
		}},
		{"environment", nil, map[string]string{
			EnvDatabaseURL:  "postgres://meterline:s3cret@db:5432/meterline",
			EnvMQTTURL:      "ssl://broker.example.net:8883",
			EnvMQTTUsername: "collector",
			EnvMQTTPassword: "pw",
			EnvLogLevel:     "debug",
			EnvLogFormat:    "json",
			EnvShareGroup:   "eu-collectors",
			EnvClientID:     "collector-eu-1",
		}, func(t *testing.T, c Config) {
			if c.DatabaseDefaulted || c.EmbeddedBroker() || c.MQTTPassword != "pw" || c.LogLevel != slog.LevelDebug ||
				c.LogFormat != LogJSON || c.ShareGroup != "eu-collectors" || c.ClientID != "collector-eu-1" {
				t.Errorf("config = %+v", c)
			}
		}},
		{"flags override the environment", []string{"-mqtt", "tcp://127.0.0.1:1884", "-log-level", "warn"},
			map[string]string{EnvMQTTURL: "tcp://elsewhere:1883", EnvLogLevel: "debug"}, func(t *testing.T, c Config) {
				if c.MQTTURL != "tcp://127.0.0.1:1884" || c.LogLevel != slog.LevelWarn {
					t.Errorf("mqtt %q, log level %v", c.MQTTURL, c.LogLevel)
				}
			}},
		{"password file from the environment", nil, map[string]string{EnvMQTTUsername: "u", EnvMQTTPasswordFile: passwordFile}, func(t *testing.T, c Config) {
			if c.MQTTPassword != "from-file" {
				t.Errorf("password = %q, want the file's content without its newline", string(c.MQTTPassword))
			}
		}},
		{"password flag overrides the environment file", []string{"-mqtt-username", "u", "-mqtt-password", "flag"},
			map[string]string{EnvMQTTPasswordFile: passwordFile}, func(t *testing.T, c Config) {
				if c.MQTTPassword != "flag" {
					t.Errorf("password = %q, want flag", string(c.MQTTPassword))
				}
			}},
		{"modes", []string{"-migrate", "-version", "-config-dump"}, nil, func(t *testing.T, c Config) {
			if !c.Migrate || !c.Version || !c.ConfigDump {
				t.Errorf("config = %+v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"database scheme", []string{"-database", "mysql://db/x"}, nil, "-database"},
		{"mqtt scheme", []string{"-mqtt", "http://broker:1883"}, nil, "scheme must be tcp://"},
		{"mqtt without port", []string{"-mqtt", "tcp://broker"}, nil, "want scheme://host:port"},
		{"broker listen", []string{"-broker-listen", "1883"}, nil, "-broker-listen"},
		{"share group with a slash", []string{"-share-group", "a/b"}, nil, "-share-group"},
		{"client id with a wildcard", []string{"-client-id", "c#1"}, nil, "-client-id"},
		{"log level", []string{"-log-level", "loud"}, nil, "log level"},
		{"log format", []string{"-log-format", "xml"}, nil, "-log-format"},
		{"password without user", []string{"-mqtt-password", "x"}, nil, "set -mqtt-username"},
		{"password and file", nil, map[string]string{EnvMQTTPassword: "a", EnvMQTTPasswordFile: "/f"}, "both a password and a password file"},
		{"missing password file", []string{"-mqtt-password-file", "/nonexistent/pw"}, nil, "password file"},
		{"unknown flag", []string{"-nope"}, nil, "not defined"},
		{"stray argument", []string{"run"}, nil, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.args, env(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParseHelp(t *testing.T) {
	var usage bytes.Buffer
	_, err := Parse([]string{"-h"}, env(nil), &usage)
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("Parse(-h) = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(usage.String(), EnvDatabaseURL) {
		t.Errorf("usage does not name the environment variables:\n%s", usage.String())
	}
}

func TestDumpRedactsSecrets(t *testing.T) {
	c, err := Parse([]string{
		"-database", "postgres://meterline:db-secret@db:5432/meterline?sslmode=disable",
		"-mqtt", "ssl://collector:url-secret@broker:8883",
		"-mqtt-username", "collector", "-mqtt-password", "mqtt-secret",
		"-client-id", "collector-1",
	}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := c.Dump(&out); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"db-secret", "url-secret", "mqtt-secret"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("dump shows %q:\n%s", secret, out.String())
		}
	}
	for _, line := range []string{
		"METERLINE_DATABASE_URL=postgres://meterline:redacted@db:5432/meterline?sslmode=disable",
		"METERLINE_MQTT_PASSWORD=<redacted>",
		"METERLINE_CLIENT_ID=collector-1",
	} {
		if !strings.Contains(out.String(), line+"\n") {
			t.Errorf("dump lacks %q:\n%s", line, out.String())
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:p@h/db", "postgres://u:redacted@h/db"},
		{"postgres://u@h/db?password=p&sslmode=disable", "postgres://u@h/db?password=redacted&sslmode=disable"},
		{"postgres://h/db", "postgres://h/db"},
		{"sqlite:data/meterline.db", "sqlite:data/meterline.db"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
