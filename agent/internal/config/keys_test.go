package config

import (
	"encoding"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/meterline/meterline/agent/internal/discover"
	"github.com/meterline/meterline/agent/internal/uplink"
)

// tomlKeys lists the dotted TOML keys of a struct type: a nested table or
// an array of tables adds its own keys under its name; a value that reads
// itself from text (Duration, Version) is one key.
func tomlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for f := range t.Fields() {
		name := f.Tag.Get("toml")
		if name == "" || name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		textual := reflect.PointerTo(ft).Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
		if ft.Kind() == reflect.Struct && !textual {
			keys = append(keys, tomlKeys(ft, prefix+name+".")...)
			continue
		}
		keys = append(keys, prefix+name)
	}
	slices.Sort(keys)
	return keys
}

// TestFileAndConfigKeys checks that the document as written (file) and
// Config carry the same keys: a key added to one and not the other would
// be refused as unknown, or read and never used, or missing from
// -config-dump.
func TestFileAndConfigKeys(t *testing.T) {
	fileKeys, configKeys := tomlKeys(reflect.TypeFor[file](), ""), tomlKeys(reflect.TypeFor[Config](), "")
	if len(fileKeys) < 30 {
		t.Fatalf("only %d keys found in file: %q", len(fileKeys), fileKeys)
	}
	for _, k := range fileKeys {
		if !slices.Contains(configKeys, k) {
			t.Errorf("key %q is in the file struct, not in Config", k)
		}
	}
	for _, k := range configKeys {
		if !slices.Contains(fileKeys, k) {
			t.Errorf("key %q is in Config, not in the file struct", k)
		}
	}
}

// TestDefaultsArePackageDefaults holds the discovery defaults, which
// config writes out so as not to import discover, to discover's own.
func TestDefaultsArePackageDefaults(t *testing.T) {
	d := Default()
	for _, c := range []struct {
		key       string
		got, want any
	}{
		{"discovery_interval", d.DiscoveryInterval.Duration, discover.DefaultInterval},
		{"discovery_concurrency", d.DiscoveryConcurrency, discover.DefaultConcurrency},
		{"discovery_timeout", d.DiscoveryTimeout.Duration, discover.DefaultTimeout},
	} {
		if c.got != c.want {
			t.Errorf("%s: default %v, discover's is %v", c.key, c.got, c.want)
		}
	}
}

// TestBrokerSchemes checks that the configuration accepts a broker URL of
// every scheme the uplink knows, and asks for TLS files only with a TLS
// one.
func TestBrokerSchemes(t *testing.T) {
	tests := []struct {
		scheme  string
		tls     bool
		wantErr bool
	}{
		{"tcp", false, false},
		{"mqtt", false, false},
		{"ws", false, false},
		{"ssl", true, false},
		{"tls", true, false},
		{"mqtts", true, false},
		{"mqtt+ssl", true, false},
		{"tcps", true, false},
		{"wss", true, false},
		{"http", false, true},
		{"unix", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.scheme, func(t *testing.T) {
			c := Default()
			c.AgentID, c.Targets = "a", []string{"127.0.0.1"}
			c.MQTT.URL = tt.scheme + "://127.0.0.1:1883"
			c.MQTT.InsecureSkipVerify = true // refused unless TLS
			err := c.Validate()
			if got := err != nil && strings.Contains(err.Error(), "mqtt.url:"); got != tt.wantErr {
				t.Errorf("Validate: %v; want a mqtt.url error: %v", err, tt.wantErr)
			}
			if tt.tls != (err == nil) {
				t.Errorf("Validate with insecure_skip_verify: %v; TLS scheme: %v", err, tt.tls)
			}
			if uplink.TLSScheme(tt.scheme) != tt.tls {
				t.Errorf("uplink.TLSScheme(%q) = %v, want %v", tt.scheme, !tt.tls, tt.tls)
			}
		})
	}
}

func TestKeysFound(t *testing.T) {
	keys := tomlKeys(reflect.TypeFor[Config](), "")
	for _, k := range []string{"poll_interval", "mqtt.keepalive", "credentials.auth_passphrase", "snmp.version", "outbox.ack_timeout"} {
		if !slices.Contains(keys, k) {
			t.Errorf("key %q not found in %q", k, keys)
		}
	}
}
