// Package config loads the agent's TOML configuration file. Defaults live
// in Default; secrets may come from the environment; Validate names the key
// at fault. The Config value is passed to whoever needs it, never global.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/meterline/meterline/agent/internal/netrange"
	"github.com/meterline/meterline/agent/internal/outbox"
	"github.com/meterline/meterline/agent/internal/poll"
	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/agent/internal/uplink"
	"github.com/meterline/meterline/shared/topic"
)

// Environment variables that override secrets in the file, so that the
// file can be world-readable.
const (
	EnvMQTTPassword  = "METERLINE_MQTT_PASSWORD" //nolint:gosec // G101: the name of the variable that holds the password, not a password
	EnvSNMPCommunity = "METERLINE_SNMP_COMMUNITY"
	// EnvSNMPAuthPassphrase and EnvSNMPPrivPassphrase are the SNMPv3
	// passphrases of the read and discover commands.
	EnvSNMPAuthPassphrase = "METERLINE_SNMP_AUTH_PASSPHRASE" //nolint:gosec // G101: a variable name, not a passphrase
	EnvSNMPPrivPassphrase = "METERLINE_SNMP_PRIV_PASSPHRASE" //nolint:gosec // G101: a variable name, not a passphrase
)

// MinPollInterval is the shortest poll interval accepted: printers are
// slow agents and share their CPU with printing.
const MinPollInterval = time.Second

// Config is the agent's configuration.
type Config struct {
	// AgentID names this agent in MQTT topics; it defaults to the host name.
	AgentID string `toml:"agent_id"`
	// StateDir holds what must survive a restart (the sequence number).
	StateDir string `toml:"state_dir"`
	// ProfilesFile, when set, names a TOML file of vendor meter profiles
	// (the format of the embedded ones) tried before the embedded ones.
	ProfilesFile string `toml:"profiles_file"`
	// PollInterval is the time between the starts of two poll rounds.
	PollInterval Duration `toml:"poll_interval"`
	// DeviceTimeout bounds the read of one device, all requests included.
	DeviceTimeout Duration `toml:"device_timeout"`
	// Concurrency is how many devices are read at once.
	Concurrency int `toml:"concurrency"`
	// Targets are the devices to read, "host" or "host:port" in the file,
	// always "host:port" once parsed.
	Targets []string `toml:"targets"`

	// Ranges are swept for printers, which are then polled with the
	// targets; Exclude leaves addresses out. Syntax: netrange.Parse.
	Ranges  []string `toml:"ranges"`
	Exclude []string `toml:"exclude"`
	// RemoteAllow widens what the collector's remote configuration may
	// point the agent at: beside the targets and ranges above, the
	// addresses listed here (ranges syntax). Anything else is refused.
	RemoteAllow []string `toml:"remote_allow"`
	// DiscoveryInterval is the time between two sweeps of the ranges; 0
	// sweeps once, at start.
	DiscoveryInterval Duration `toml:"discovery_interval"`
	// DiscoveryPort is the SNMP port probed on each address.
	DiscoveryPort int `toml:"discovery_port"`
	// DiscoveryConcurrency is how many addresses are probed at once.
	DiscoveryConcurrency int `toml:"discovery_concurrency"`
	// DiscoveryTimeout is how long a probe waits for an answer, per
	// credential; probes are not retried.
	DiscoveryTimeout Duration `toml:"discovery_timeout"`

	// Credentials are tried in order on each device until one works. When
	// none are listed, the [snmp] section's version and community are the
	// one credential, named "default".
	Credentials []Credential `toml:"credentials"`

	MQTT   MQTT   `toml:"mqtt"`
	Outbox Outbox `toml:"outbox"`
	SNMP   SNMP   `toml:"snmp"`
}

// MQTT says how to reach the broker.
type MQTT struct {
	URL string `toml:"url"`
	// Username defaults to the agent id when a password is set.
	Username string `toml:"username"`
	Password Secret `toml:"password"`
	// ClientID defaults to "meterline-agent-" + the agent id.
	ClientID string `toml:"client_id"`
	// CAFile is a PEM file of the authorities that sign the broker's
	// certificate, instead of the system's (TLS URLs only).
	CAFile string `toml:"ca_file"`
	// CertFile and KeyFile are the agent's PEM client certificate and key.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// InsecureSkipVerify accepts any broker certificate (tests only).
	InsecureSkipVerify bool `toml:"insecure_skip_verify"`
	// KeepAlive is the MQTT keepalive: how soon a dead connection is seen.
	KeepAlive Duration `toml:"keepalive"`
	// MaxReconnectInterval caps the backoff between connection attempts.
	MaxReconnectInterval Duration `toml:"max_reconnect_interval"`
}

// Outbox bounds the on-disk queue of read batches waiting for the
// collector's acknowledgement.
type Outbox struct {
	// MaxBytes bounds the payload bytes kept; past it the oldest batches
	// are dropped (and counted in the status).
	MaxBytes int64 `toml:"max_bytes"`
	// MaxAge drops batches older than this.
	MaxAge Duration `toml:"max_age"`
	// AckTimeout is how long a published batch waits for the collector's
	// acknowledgement before it is sent again (then twice as long, up to
	// ten minutes).
	AckTimeout Duration `toml:"ack_timeout"`
}

// Limits of the [outbox] and [mqtt] keys.
const (
	MinOutboxBytes = 1 << 20 // one maximal read batch must fit
	MinKeepAlive   = 5 * time.Second
)

// SNMP says how to talk to the printers.
type SNMP struct {
	Version   Version  `toml:"version"`
	Community Secret   `toml:"community"`
	Timeout   Duration `toml:"timeout"`
	Retries   int      `toml:"retries"`
}

// Params returns the [snmp] section as the snmp package takes it: the
// default credential.
func (s SNMP) Params() snmp.Params {
	return snmp.Params{
		Version:   s.Version.Version,
		Community: s.Community.Reveal(),
		Timeout:   s.Timeout.Duration,
		Retries:   s.Retries,
	}
}

// Default returns the configuration used for every key the file leaves out:
// the defaults of the packages that use each value.
func Default() Config {
	return Config{
		StateDir:      "./state",
		PollInterval:  Duration{poll.DefaultInterval},
		DeviceTimeout: Duration{poll.DefaultDeviceTimeout},
		Concurrency:   poll.DefaultConcurrency,
		// discover.DefaultInterval, DefaultConcurrency and DefaultTimeout,
		// which TestDefaultsArePackageDefaults holds these to: config
		// does not import discover.
		DiscoveryInterval:    Duration{24 * time.Hour},
		DiscoveryPort:        snmp.DefaultPort,
		DiscoveryConcurrency: 64,
		DiscoveryTimeout:     Duration{time.Second},
		MQTT: MQTT{
			URL:                  uplink.DefaultURL,
			KeepAlive:            Duration{uplink.DefaultKeepAlive},
			MaxReconnectInterval: Duration{uplink.DefaultMaxReconnectInterval},
		},
		Outbox: Outbox{
			MaxBytes:   outbox.DefaultMaxBytes,
			MaxAge:     Duration{outbox.DefaultMaxAge},
			AckTimeout: Duration{uplink.DefaultAckTimeout},
		},
		SNMP: SNMP{
			Version:   Version{snmp.DefaultVersion},
			Community: snmp.DefaultCommunity,
			Timeout:   Duration{snmp.DefaultTimeout},
			Retries:   snmp.DefaultRetries,
		},
	}
}

// Env is what Load reads from the process besides the file.
type Env struct {
	Getenv   func(string) string
	Hostname func() (string, error)
}

// OSEnv is the process environment.
func OSEnv() Env { return Env{Getenv: os.Getenv, Hostname: os.Hostname} }

// Load reads, completes and validates the configuration file at path.
func Load(path string, env Env) (Config, error) {
	// The operator names the file (--config); reading it is the point.
	data, err := os.ReadFile(path) //nolint:gosec // G304: the operator's own configuration path
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data, env)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a configuration over the defaults, applies the environment
// overrides and derived defaults, and validates the result. Unknown keys are
// errors, reported with their position: a typo must not silently fall back
// to a default.
func Parse(data []byte, env Env) (Config, error) {
	f := fileOf(Default())
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Config{}, describeDecodeError(err)
	}
	c, err := f.config()
	if err != nil {
		return Config{}, err
	}
	if err := c.complete(env); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	// Targets become "host:port", so that a device keeps one address
	// however it was written.
	for i, t := range c.Targets {
		c.Targets[i], _ = snmp.JoinTarget(t)
	}
	return c, nil
}

// complete applies environment overrides and the defaults that depend on
// other values.
func (c *Config) complete(env Env) error {
	if env.Getenv != nil {
		if v := env.Getenv(EnvMQTTPassword); v != "" {
			c.MQTT.Password = Secret(v)
		}
		if v := env.Getenv(EnvSNMPCommunity); v != "" {
			c.SNMP.Community = Secret(v)
		}
		for i := range c.Credentials {
			c.Credentials[i].fromEnv(env.Getenv)
		}
	}
	if c.AgentID == "" {
		if env.Hostname == nil {
			return errors.New("agent_id: not set and no host name to default to")
		}
		host, err := env.Hostname()
		if err != nil {
			return fmt.Errorf("agent_id: not set, and the host name is unknown: %w", err)
		}
		c.AgentID = SanitizeAgentID(host)
	}
	if c.MQTT.ClientID == "" {
		c.MQTT.ClientID = "meterline-agent-" + c.AgentID
	}
	// The broker's ACL lets a user publish only under the agent id that is
	// its name (deploy/mosquitto/acl): with a password and no user name,
	// the agent id is the one that works.
	if c.MQTT.Password != "" && c.MQTT.Username == "" {
		c.MQTT.Username = c.AgentID
	}
	return nil
}

// SanitizeAgentID turns a host name into a valid agent id: characters that
// cannot be in a topic level become '-', and it is cut to 64 characters.
func SanitizeAgentID(host string) string {
	host, _, _ = strings.Cut(host, ".") // the short host name
	var b strings.Builder
	for _, r := range host {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	id := strings.Trim(b.String(), "-")
	if len(id) > 64 {
		id = id[:64]
	}
	if id == "" {
		id = "agent"
	}
	return id
}

// Validate checks every key and reports all problems at once, each naming
// its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !topic.ValidAgentID(c.AgentID) {
		bad("agent_id: %q must be 1 to 64 letters, digits, '.', '_' or '-'", c.AgentID)
	}
	if strings.TrimSpace(c.StateDir) == "" {
		bad("state_dir: must not be empty")
	}
	if c.PollInterval.Duration < MinPollInterval {
		bad("poll_interval: %s is below the minimum of %s", c.PollInterval, MinPollInterval)
	}
	if c.DeviceTimeout.Duration <= 0 {
		bad("device_timeout: %s must be positive", c.DeviceTimeout)
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		bad("concurrency: %d is not between 1 and 1024", c.Concurrency)
	}
	if len(c.Targets) == 0 && len(c.Ranges) == 0 {
		bad("targets: list at least one device to read, as \"host\" or \"host:port\", or ranges to discover printers in")
	}
	seen := map[string]int{}
	for i, t := range c.Targets {
		canonical, err := snmp.JoinTarget(t)
		if err != nil {
			bad("targets[%d]: %v", i, err)
			continue
		}
		if j, dup := seen[canonical]; dup {
			bad("targets[%d]: %q is the same device as targets[%d]", i, t, j)
		}
		seen[canonical] = i
	}

	if err := uplink.CheckURL(c.MQTT.URL); err != nil {
		bad("mqtt.url: %v", err)
	}
	if len(c.MQTT.ClientID) > 256 {
		bad("mqtt.client_id: longer than 256 characters")
	}
	errs = append(errs, c.validateUplink()...)

	if c.SNMP.Community == "" && len(c.Credentials) == 0 {
		bad("snmp.community: must not be empty")
	}
	if c.SNMP.Timeout.Duration <= 0 {
		bad("snmp.timeout: %s must be positive", c.SNMP.Timeout)
	}
	if c.SNMP.Retries < 0 || c.SNMP.Retries > 10 {
		bad("snmp.retries: %d is not between 0 and 10", c.SNMP.Retries)
	}
	errs = append(errs, c.validateDiscovery()...)
	errs = append(errs, validateCredentials(c.Credentials)...)
	return errors.Join(errs...)
}

// validateUplink checks the TLS, connection and outbox keys.
func (c Config) validateUplink() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	m := c.MQTT
	if u, err := url.Parse(m.URL); err == nil && !uplink.TLSScheme(u.Scheme) {
		for _, k := range []struct{ key, value string }{{"ca_file", m.CAFile}, {"cert_file", m.CertFile}, {"key_file", m.KeyFile}} {
			if k.value != "" {
				bad("mqtt.%s: set, but mqtt.url %q is not TLS: use %s", k.key, u.Redacted(), uplink.TLSSchemes)
			}
		}
		if m.InsecureSkipVerify {
			bad("mqtt.insecure_skip_verify: set, but mqtt.url %q is not TLS", u.Redacted())
		}
	}
	if (m.CertFile == "") != (m.KeyFile == "") {
		bad("mqtt.cert_file, mqtt.key_file: give both (the client certificate and its key) or neither")
	}
	for _, k := range []struct{ key, path string }{{"ca_file", m.CAFile}, {"cert_file", m.CertFile}, {"key_file", m.KeyFile}} {
		if k.path == "" {
			continue
		}
		if f, err := os.Open(k.path); err != nil {
			bad("mqtt.%s: %v", k.key, err)
		} else {
			f.Close()
		}
	}
	if d := m.KeepAlive.Duration; d < MinKeepAlive || d > time.Hour {
		bad("mqtt.keepalive: %s is not between %s and 1h", m.KeepAlive, MinKeepAlive)
	}
	if d := m.MaxReconnectInterval.Duration; d < time.Second || d > time.Hour {
		bad("mqtt.max_reconnect_interval: %s is not between 1s and 1h", m.MaxReconnectInterval)
	}
	o := c.Outbox
	if o.MaxBytes < MinOutboxBytes {
		bad("outbox.max_bytes: %d is below the minimum of %d (one largest read batch)", o.MaxBytes, MinOutboxBytes)
	}
	if d := o.AckTimeout.Duration; d < time.Second || d > time.Hour {
		bad("outbox.ack_timeout: %s is not between 1s and 1h", o.AckTimeout)
	}
	if o.MaxAge.Duration < time.Hour {
		bad("outbox.max_age: %s is below the minimum of 1h", o.MaxAge)
	}
	return errs
}

func (c Config) validateDiscovery() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, err := netrange.Parse(c.Ranges, nil); err != nil {
		bad("ranges: %s", oneLine(err))
	}
	if _, err := netrange.Parse(c.Exclude, nil); err != nil {
		bad("exclude: %s", oneLine(err))
	}
	if _, err := netrange.Parse(c.RemoteAllow, nil); err != nil {
		bad("remote_allow: %s", oneLine(err))
	}
	if d := c.DiscoveryInterval.Duration; d != 0 && d < MinPollInterval {
		bad("discovery_interval: %s is below the minimum of %s (0 sweeps once, at start)", c.DiscoveryInterval, MinPollInterval)
	}
	if c.DiscoveryPort < 1 || c.DiscoveryPort > 65535 {
		bad("discovery_port: %d is not between 1 and 65535", c.DiscoveryPort)
	}
	if c.DiscoveryConcurrency < 1 || c.DiscoveryConcurrency > 1024 {
		bad("discovery_concurrency: %d is not between 1 and 1024", c.DiscoveryConcurrency)
	}
	if d := c.DiscoveryTimeout.Duration; d <= 0 || d > time.Minute {
		bad("discovery_timeout: %s is not between 0 and 1m", c.DiscoveryTimeout)
	}
	return errs
}

// oneLine joins the lines of an errors.Join error.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// SNMPCredentials are the credentials to try on each polled device, in
// order, with the [snmp] timeout and retries.
func (c Config) SNMPCredentials() []snmp.Credential {
	if len(c.Credentials) == 0 {
		return []snmp.Credential{{Name: DefaultCredential, Params: c.SNMP.Params()}}
	}
	out := make([]snmp.Credential, len(c.Credentials))
	for i, cred := range c.Credentials {
		out[i] = snmp.Credential{Name: cred.Name, Params: cred.Params(c.SNMP.Timeout.Duration, c.SNMP.Retries)}
	}
	return out
}

// DiscoveryCredentials are SNMPCredentials with the discovery timeout and
// no retries: a sweep meets mostly silence.
func (c Config) DiscoveryCredentials() []snmp.Credential {
	out := c.SNMPCredentials()
	for i := range out {
		out[i].Params.Timeout, out[i].Params.Retries = c.DiscoveryTimeout.Duration, 0
	}
	return out
}

// DiscoveryUDPPort is DiscoveryPort as the port number discovery probes.
// Validate keeps DiscoveryPort within 1..65535; a Config that skipped it
// gets snmp.DefaultPort for anything else.
func (c Config) DiscoveryUDPPort() uint16 {
	if c.DiscoveryPort < 1 || c.DiscoveryPort > 65535 {
		return snmp.DefaultPort
	}
	return uint16(c.DiscoveryPort)
}

// Dump returns cfg as TOML, as the agent runs with it: the file, the
// defaults and the environment overrides together, each secret replaced
// by a mark that says it is set.
func Dump(cfg Config) ([]byte, error) {
	// go-toml writes a string-kinded type as a string without asking its
	// MarshalText, so the secrets are replaced here, in a copy.
	redactSecrets(reflect.ValueOf(&cfg).Elem())
	out, err := toml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("config dump: %w", err)
	}
	return out, nil
}

var secretType = reflect.TypeFor[Secret]()

// redactSecrets replaces every non-empty Secret under v with the redaction
// mark. Slices of structs are copied first, so that the caller's value
// keeps its secrets.
func redactSecrets(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				redactSecrets(f)
			}
		}
	case reflect.Slice:
		if v.Len() == 0 || v.Type().Elem().Kind() != reflect.Struct {
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		v.Set(c)
		for i := range v.Len() {
			redactSecrets(v.Index(i))
		}
	case reflect.String:
		if v.Type() == secretType && v.Len() > 0 {
			v.SetString(redacted)
		}
	}
}

//go:embed sample.toml
var sample []byte

// Sample returns the commented example configuration.
func Sample() []byte { return bytes.Clone(sample) }
