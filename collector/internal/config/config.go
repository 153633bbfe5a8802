// Package config reads the collector's configuration from command-line
// flags and environment variables into a Config value. Flags override the
// environment; the environment overrides the defaults.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/topic"
)

// Environment variable names. Every flag has one.
const (
	EnvDatabaseURL      = "METERLINE_DATABASE_URL"
	EnvDataDir          = "METERLINE_DATA_DIR"
	EnvMQTTURL          = "METERLINE_MQTT_URL"
	EnvMQTTUsername     = "METERLINE_MQTT_USERNAME"
	EnvMQTTPassword     = "METERLINE_MQTT_PASSWORD"
	EnvMQTTPasswordFile = "METERLINE_MQTT_PASSWORD_FILE"
	EnvBrokerListen     = "METERLINE_BROKER_LISTEN"
	EnvShareGroup       = "METERLINE_SHARE_GROUP"
	EnvClientID         = "METERLINE_CLIENT_ID"
	EnvLogLevel         = "METERLINE_LOG_LEVEL"
	EnvLogFormat        = "METERLINE_LOG_FORMAT"
)

// Defaults.
const (
	DefaultDataDir      = "./data"
	DefaultBrokerListen = ":1883"
	DefaultDatabaseFile = "meterline.db"
)

// Log formats.
const (
	LogText = "text"
	LogJSON = "json"
)

// Secret is a string that never prints itself.
type Secret string

// String redacts the secret; use string(s) to read it.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<redacted>"
}

// Config is the effective configuration of one collector process.
type Config struct {
	// DatabaseURL names the database: postgres://… or sqlite:PATH.
	DatabaseURL string
	// DatabaseDefaulted is true when DatabaseURL was derived from DataDir:
	// the single-box default, migrated automatically on start.
	DatabaseDefaulted bool
	// DataDir holds the embedded database.
	DataDir string

	// MQTTURL is the external broker; empty means embed one.
	MQTTURL      string
	MQTTUsername string
	MQTTPassword Secret
	// BrokerListen is the embedded broker's TCP address.
	BrokerListen string
	// ShareGroup is the shared-subscription group of the collector replicas.
	ShareGroup string
	// ClientID is the MQTT client id; keep it stable across restarts so the
	// broker resumes the persistent session.
	ClientID string

	Migrate    bool
	Version    bool
	ConfigDump bool

	LogLevel  slog.Level
	LogFormat string
}

// EmbeddedBroker reports whether the collector runs its own MQTT broker.
func (c Config) EmbeddedBroker() bool { return c.MQTTURL == "" }

// Parse reads the configuration from args (without the program name) and
// from getenv. Usage and flag errors are written to usage. It returns
// flag.ErrHelp when -h was given.
func Parse(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	fs := flag.NewFlagSet("meterline-collector", flag.ContinueOnError)
	fs.SetOutput(usage)

	// Flag defaults are the static ones: the environment is applied after
	// parsing, to the flags not given, so that -h never prints a value
	// (a database URL with its password) taken from the environment.
	var (
		c            Config
		password     string
		passwordFile string
		logLevel     string
	)
	stringFlags := []struct {
		dst      *string
		name     string
		env      string
		fallback string
		usage    string
	}{
		{&c.DatabaseURL, "database", EnvDatabaseURL, "", "database URL: postgres://… or sqlite:PATH (default sqlite:<data-dir>/" + DefaultDatabaseFile + ")"},
		{&c.DataDir, "data-dir", EnvDataDir, DefaultDataDir, "directory of the embedded database, created if missing"},
		{&c.MQTTURL, "mqtt", EnvMQTTURL, "", "MQTT broker URL, tcp://host:port or ssl://host:port; empty embeds a broker"},
		{&c.MQTTUsername, "mqtt-username", EnvMQTTUsername, "", "MQTT user name"},
		{&password, "mqtt-password", "", "", "MQTT password [" + EnvMQTTPassword + "]"},
		{&passwordFile, "mqtt-password-file", "", "", "file holding the MQTT password [" + EnvMQTTPasswordFile + "]"},
		{&c.BrokerListen, "broker-listen", EnvBrokerListen, DefaultBrokerListen, "TCP address of the embedded broker"},
		{&c.ShareGroup, "share-group", EnvShareGroup, topic.DefaultShareGroup, "shared-subscription group of the collector replicas"},
		{&c.ClientID, "client-id", EnvClientID, defaultClientID(), "MQTT client id; keep it stable across restarts"},
		{&logLevel, "log-level", EnvLogLevel, "info", "log level: debug, info, warn or error"},
		{&c.LogFormat, "log-format", EnvLogFormat, LogText, "log format: " + LogText + " or " + LogJSON},
	}
	for _, f := range stringFlags {
		text := f.usage
		if f.env != "" {
			text += " [" + f.env + "]"
		}
		fs.StringVar(f.dst, f.name, f.fallback, text)
	}
	fs.BoolVar(&c.Migrate, "migrate", false, "apply the database schema and exit")
	fs.BoolVar(&c.Version, "version", false, "print the version and exit")
	fs.BoolVar(&c.ConfigDump, "config-dump", false, "print the effective configuration, secrets redacted, and exit")

	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, f := range stringFlags {
		if f.env == "" || given[f.name] {
			continue
		}
		if v := getenv(f.env); v != "" {
			*f.dst = v
		}
	}

	secret, err := resolvePassword(password, passwordFile, getenv)
	if err != nil {
		return Config{}, err
	}
	c.MQTTPassword = secret

	if err := c.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return Config{}, fmt.Errorf("log level %q: want debug, info, warn or error", logLevel)
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite:" + filepath.Join(c.DataDir, DefaultDatabaseFile)
		c.DatabaseDefaulted = true
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// resolvePassword picks the password from, in order, the -mqtt-password and
// -mqtt-password-file flags, then the same two environment variables.
// Setting both of a pair is a mistake worth stopping for.
func resolvePassword(flagValue, flagFile string, getenv func(string) string) (Secret, error) {
	pick := func(value, file, where string) (Secret, bool, error) {
		switch {
		case value != "" && file != "":
			return "", false, fmt.Errorf("MQTT password: %s sets both a password and a password file; keep one", where)
		case value != "":
			return Secret(value), true, nil
		case file != "":
			b, err := os.ReadFile(file)
			if err != nil {
				return "", false, fmt.Errorf("MQTT password file: %w", err)
			}
			// Files written by editors and `echo` end in a newline that is
			// not part of the password.
			return Secret(strings.TrimRight(string(b), "\r\n")), true, nil
		}
		return "", false, nil
	}
	if s, ok, err := pick(flagValue, flagFile, "the command line"); ok || err != nil {
		return s, err
	}
	s, _, err := pick(getenv(EnvMQTTPassword), getenv(EnvMQTTPasswordFile), "the environment")
	return s, err
}

// Validate checks the configuration and says what is wrong with it.
func (c Config) Validate() error {
	var errs []error
	if _, err := schema.ParseSource(c.DatabaseURL); err != nil {
		errs = append(errs, fmt.Errorf("-database: %w", err))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("-data-dir: must not be empty"))
	}
	if c.MQTTURL != "" {
		if err := validateBrokerURL(c.MQTTURL); err != nil {
			errs = append(errs, fmt.Errorf("-mqtt: %w", err))
		}
	} else if _, _, err := net.SplitHostPort(c.BrokerListen); err != nil {
		errs = append(errs, fmt.Errorf("-broker-listen %q: want host:port or :port: %w", c.BrokerListen, err))
	}
	if c.MQTTPassword != "" && c.MQTTUsername == "" {
		errs = append(errs, errors.New("-mqtt-password: set -mqtt-username too"))
	}
	// A share group is one topic level: the agent id rules fit it exactly.
	if !topic.ValidAgentID(c.ShareGroup) {
		errs = append(errs, fmt.Errorf("-share-group %q: want 1 to 64 letters, digits, '.', '_' or '-'", c.ShareGroup))
	}
	if c.ClientID == "" || strings.ContainsAny(c.ClientID, "+#/") {
		errs = append(errs, fmt.Errorf("-client-id %q: want a non-empty id without '+', '#' or '/'", c.ClientID))
	}
	if c.LogFormat != LogText && c.LogFormat != LogJSON {
		errs = append(errs, fmt.Errorf("-log-format %q: want text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}

// brokerSchemes are the URL schemes paho dials over TCP, plain or TLS.
var brokerSchemes = map[string]bool{"tcp": true, "mqtt": true, "ssl": true, "tls": true, "mqtts": true}

func validateBrokerURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if !brokerSchemes[u.Scheme] {
		return fmt.Errorf("%q: scheme must be tcp:// or ssl:// (also mqtt://, tls://, mqtts://)", RedactURL(raw))
	}
	if u.Hostname() == "" || u.Port() == "" {
		return fmt.Errorf("%q: want scheme://host:port", RedactURL(raw))
	}
	return nil
}

// defaultClientID is stable across restarts on one host, so the broker
// resumes the collector's persistent session (and what it queued) instead of
// leaving an orphan behind each restart. Replicas on one host must each be
// given their own -client-id.
func defaultClientID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return "meterline-collector-" + host
}

// Dump writes the effective configuration as environment lines, secrets
// redacted, so it can be checked or pasted into an environment file.
func (c Config) Dump(w io.Writer) error {
	lines := []struct{ name, value string }{
		{EnvDatabaseURL, RedactURL(c.DatabaseURL)},
		{EnvDataDir, c.DataDir},
		{EnvMQTTURL, RedactURL(c.MQTTURL)},
		{EnvMQTTUsername, c.MQTTUsername},
		{EnvMQTTPassword, c.MQTTPassword.String()},
		{EnvBrokerListen, c.BrokerListen},
		{EnvShareGroup, c.ShareGroup},
		{EnvClientID, c.ClientID},
		{EnvLogLevel, strings.ToLower(c.LogLevel.String())},
		{EnvLogFormat, c.LogFormat},
	}
	for _, l := range lines {
		if _, err := fmt.Fprintf(w, "%s=%s\n", l.name, l.value); err != nil {
			return fmt.Errorf("write config dump: %w", err)
		}
	}
	return nil
}

// RedactURL hides the password of a URL's user info, and the password
// parameter some PostgreSQL URLs carry in the query, for logs and dumps.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || (u.User == nil && !u.Query().Has("password")) {
		return raw
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "redacted")
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "redacted")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
