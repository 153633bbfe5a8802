package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/meterline/meterline/agent/internal/snmp"
)

// file is the document as written. Durations and the SNMP version stay
// text until config converts them, so that a bad one is reported with its
// key (go-toml reports a failed conversion without it).
type file struct {
	AgentID       string   `toml:"agent_id"`
	StateDir      string   `toml:"state_dir"`
	ProfilesFile  string   `toml:"profiles_file"`
	PollInterval  string   `toml:"poll_interval"`
	DeviceTimeout string   `toml:"device_timeout"`
	Concurrency   int      `toml:"concurrency"`
	Targets       []string `toml:"targets"`

	Ranges               []string         `toml:"ranges"`
	Exclude              []string         `toml:"exclude"`
	RemoteAllow          []string         `toml:"remote_allow"`
	DiscoveryInterval    string           `toml:"discovery_interval"`
	DiscoveryPort        int              `toml:"discovery_port"`
	DiscoveryConcurrency int              `toml:"discovery_concurrency"`
	DiscoveryTimeout     string           `toml:"discovery_timeout"`
	Credentials          []fileCredential `toml:"credentials"`

	MQTT   fileMQTT   `toml:"mqtt"`
	Outbox fileOutbox `toml:"outbox"`
	SNMP   struct {
		// Version and Community are nil unless written, so that writing
		// them beside [[credentials]] can be refused.
		Version   any     `toml:"version"` // "2c", "1" or 1
		Community *Secret `toml:"community"`
		Timeout   string  `toml:"timeout"`
		Retries   int     `toml:"retries"`
	} `toml:"snmp"`
}

// fileMQTT is MQTT as written: durations stay text (see file).
type fileMQTT struct {
	URL                  string `toml:"url"`
	Username             string `toml:"username"`
	Password             Secret `toml:"password"`
	ClientID             string `toml:"client_id"`
	CAFile               string `toml:"ca_file"`
	CertFile             string `toml:"cert_file"`
	KeyFile              string `toml:"key_file"`
	InsecureSkipVerify   bool   `toml:"insecure_skip_verify"`
	KeepAlive            string `toml:"keepalive"`
	MaxReconnectInterval string `toml:"max_reconnect_interval"`
}

// fileOutbox is Outbox as written.
type fileOutbox struct {
	MaxBytes   int64  `toml:"max_bytes"`
	MaxAge     string `toml:"max_age"`
	AckTimeout string `toml:"ack_timeout"`
}

func fileOf(c Config) file {
	f := file{
		AgentID:       c.AgentID,
		StateDir:      c.StateDir,
		ProfilesFile:  c.ProfilesFile,
		PollInterval:  c.PollInterval.String(),
		DeviceTimeout: c.DeviceTimeout.String(),
		Concurrency:   c.Concurrency,
		Targets:       c.Targets,
		Ranges:        c.Ranges,
		Exclude:       c.Exclude,
		RemoteAllow:   c.RemoteAllow,

		DiscoveryInterval:    c.DiscoveryInterval.String(),
		DiscoveryPort:        c.DiscoveryPort,
		DiscoveryConcurrency: c.DiscoveryConcurrency,
		DiscoveryTimeout:     c.DiscoveryTimeout.String(),
		MQTT: fileMQTT{
			URL:                  c.MQTT.URL,
			Username:             c.MQTT.Username,
			Password:             c.MQTT.Password,
			ClientID:             c.MQTT.ClientID,
			CAFile:               c.MQTT.CAFile,
			CertFile:             c.MQTT.CertFile,
			KeyFile:              c.MQTT.KeyFile,
			InsecureSkipVerify:   c.MQTT.InsecureSkipVerify,
			KeepAlive:            c.MQTT.KeepAlive.String(),
			MaxReconnectInterval: c.MQTT.MaxReconnectInterval.String(),
		},
		Outbox: fileOutbox{
			MaxBytes:   c.Outbox.MaxBytes,
			MaxAge:     c.Outbox.MaxAge.String(),
			AckTimeout: c.Outbox.AckTimeout.String(),
		},
	}
	f.SNMP.Timeout = c.SNMP.Timeout.String()
	f.SNMP.Retries = c.SNMP.Retries
	return f
}

func (f file) config() (Config, error) {
	c := Config{
		AgentID:      f.AgentID,
		StateDir:     f.StateDir,
		ProfilesFile: f.ProfilesFile,
		Concurrency:  f.Concurrency,
		Targets:      f.Targets,
		Ranges:       f.Ranges,
		Exclude:      f.Exclude,
		RemoteAllow:  f.RemoteAllow,

		DiscoveryPort:        f.DiscoveryPort,
		DiscoveryConcurrency: f.DiscoveryConcurrency,
		MQTT: MQTT{
			URL:                f.MQTT.URL,
			Username:           f.MQTT.Username,
			Password:           f.MQTT.Password,
			ClientID:           f.MQTT.ClientID,
			CAFile:             f.MQTT.CAFile,
			CertFile:           f.MQTT.CertFile,
			KeyFile:            f.MQTT.KeyFile,
			InsecureSkipVerify: f.MQTT.InsecureSkipVerify,
		},
		Outbox: Outbox{MaxBytes: f.Outbox.MaxBytes},
	}
	def := Default().SNMP
	c.SNMP.Version, c.SNMP.Community = def.Version, def.Community
	if f.SNMP.Community != nil {
		c.SNMP.Community = *f.SNMP.Community
	}
	c.SNMP.Retries = f.SNMP.Retries
	var errs []error
	for _, d := range []struct {
		key  string
		text string
		to   *Duration
	}{
		{"poll_interval", f.PollInterval, &c.PollInterval},
		{"device_timeout", f.DeviceTimeout, &c.DeviceTimeout},
		{"discovery_interval", f.DiscoveryInterval, &c.DiscoveryInterval},
		{"discovery_timeout", f.DiscoveryTimeout, &c.DiscoveryTimeout},
		{"snmp.timeout", f.SNMP.Timeout, &c.SNMP.Timeout},
		{"mqtt.keepalive", f.MQTT.KeepAlive, &c.MQTT.KeepAlive},
		{"mqtt.max_reconnect_interval", f.MQTT.MaxReconnectInterval, &c.MQTT.MaxReconnectInterval},
		{"outbox.max_age", f.Outbox.MaxAge, &c.Outbox.MaxAge},
		{"outbox.ack_timeout", f.Outbox.AckTimeout, &c.Outbox.AckTimeout},
	} {
		if err := d.to.UnmarshalText([]byte(d.text)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.key, err))
		}
	}
	if f.SNMP.Version != nil {
		switch err := parseVersion(f.SNMP.Version, &c.SNMP.Version); {
		case err != nil:
			errs = append(errs, fmt.Errorf("snmp.version: %w", err))
		case c.SNMP.Version.Version == snmp.Version3:
			errs = append(errs, errors.New(`snmp.version: "3" is not supported here: SNMPv3 needs a user and keys, in a [[credentials]] entry`))
		}
	}
	if len(f.Credentials) > 0 && (f.SNMP.Version != nil || f.SNMP.Community != nil) {
		errs = append(errs, errors.New("snmp.version, snmp.community: set beside [[credentials]], which replace them: make them a [[credentials]] entry (timeout and retries stay in [snmp])"))
	}
	for i, fc := range f.Credentials {
		cred, err := fc.credential(i)
		if err != nil {
			errs = append(errs, err)
		}
		c.Credentials = append(c.Credentials, cred)
	}
	return c, errors.Join(errs...)
}

// describeDecodeError turns go-toml errors into one message per problem,
// with the key and its line and column.
func describeDecodeError(err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for _, e := range strict.Errors {
			line, col := e.Position()
			errs = append(errs, fmt.Errorf("unknown key %q at line %d, column %d", strings.Join(e.Key(), "."), line, col))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		msg := friendlyMismatch(strings.TrimPrefix(de.Error(), "toml: "))
		if key := strings.Join(de.Key(), "."); key != "" {
			return fmt.Errorf("%s: %s (line %d, column %d)", key, msg, line, col)
		}
		return fmt.Errorf("line %d, column %d: %s", line, col, msg)
	}
	return err
}

// friendlyMismatch rewrites go-toml's "cannot decode TOML integer into
// struct field config.file.PollInterval of type string" without Go names.
func friendlyMismatch(msg string) string {
	rest, ok := strings.CutPrefix(msg, "cannot decode TOML ")
	if !ok {
		return msg
	}
	tomlType, _, _ := strings.Cut(rest, " ")
	_, goType, found := strings.Cut(rest, " of type ")
	if !found {
		return msg
	}
	switch {
	case goType == "string":
		goType = "a string (in quotes)"
	case strings.HasPrefix(goType, "int"):
		goType = "an integer"
	case strings.HasPrefix(goType, "[]"):
		goType = "a list"
	default:
		goType = "a " + goType
	}
	return fmt.Sprintf("a TOML %s where %s is expected", tomlType, goType)
}
