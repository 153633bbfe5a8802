// Package config reads the collector's configuration from command-line
// flags and environment variables into a Config value. Flags override the
// environment; the environment overrides the defaults.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/meterline/meterline/shared/envflag"
	"github.com/meterline/meterline/shared/logging"
	"github.com/meterline/meterline/shared/redact"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/topic"
)

// Environment variable names. Every flag has one.
const (
	EnvDatabaseURL      = "METERLINE_DATABASE_URL"
	EnvDatabaseURLFile  = "METERLINE_DATABASE_URL_FILE"
	EnvDataDir          = "METERLINE_DATA_DIR"
	EnvMQTTURL          = "METERLINE_MQTT_URL"
	EnvMQTTUsername     = "METERLINE_MQTT_USERNAME"
	EnvMQTTPassword     = "METERLINE_MQTT_PASSWORD"      //nolint:gosec // the name of a variable, not a password
	EnvMQTTPasswordFile = "METERLINE_MQTT_PASSWORD_FILE" //nolint:gosec // the name of a variable, not a password
	EnvMQTTCAFile       = "METERLINE_MQTT_CA_FILE"
	EnvMQTTCertFile     = "METERLINE_MQTT_CERT_FILE"
	EnvMQTTKeyFile      = "METERLINE_MQTT_KEY_FILE"
	EnvBrokerListen     = "METERLINE_BROKER_LISTEN"
	EnvBrokerPasswords  = "METERLINE_BROKER_PASSWORD_FILE"
	EnvShareGroup       = "METERLINE_SHARE_GROUP"
	EnvClientID         = "METERLINE_CLIENT_ID"
	EnvHTTPListen       = "METERLINE_HTTP_LISTEN"
	EnvIngestWorkers    = "METERLINE_INGEST_WORKERS"
	EnvIngestQueue      = "METERLINE_INGEST_QUEUE"
	EnvIngestBatchReads = "METERLINE_INGEST_BATCH_READS"
	EnvIngestBatchWait  = "METERLINE_INGEST_BATCH_WAIT"
	// Retention of dead letters.
	EnvDeadLetterMaxAge      = "METERLINE_DEAD_LETTER_MAX_AGE"
	EnvDeadLetterMaxRows     = "METERLINE_DEAD_LETTER_MAX_ROWS"
	EnvDeadLetterMaxPerAgent = "METERLINE_DEAD_LETTER_MAX_PER_AGENT"
	EnvLogLevel              = "METERLINE_LOG_LEVEL"
	EnvLogFormat             = "METERLINE_LOG_FORMAT"
)

// Defaults.
const (
	DefaultDataDir      = "./data"
	DefaultBrokerListen = "127.0.0.1:1883" // this machine only: beyond, the broker needs a password file
	DefaultDatabaseFile = "meterline.db"
	// DefaultHTTPListen is the operations server's address (/metrics,
	// /healthz, /readyz); 9464 is the port commonly given to exporters.
	// Loopback: metrics and profiles are for the operator, who opens it
	// to the monitoring host on purpose (-http-listen :9464).
	DefaultHTTPListen = "127.0.0.1:9464"
	// Dead letters are kept a month, at most 100,000 in all and 1,000 per
	// agent: enough to look into a fault, bounded whatever an agent sends.
	DefaultDeadLetterMaxAge      = 30 * 24 * time.Hour
	DefaultDeadLetterMaxRows     = 100_000
	DefaultDeadLetterMaxPerAgent = 1_000
)

// HTTPListenOff disables the operations server, like the empty address:
// an environment variable cannot be told apart from an unset one when
// empty, so it needs a word.
const HTTPListenOff = "off"

// Log formats.
const (
	LogAuto = logging.Auto // text on a terminal, JSON otherwise
	LogText = logging.Text
	LogJSON = logging.JSON
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
	// BrokerPasswordFile holds the embedded broker's users (mosquitto_passwd
	// format); given, every client needs a password. Required beyond
	// loopback.
	BrokerPasswordFile string
	// ShareGroup is the shared-subscription group of the collector replicas.
	ShareGroup string
	// ClientID is the MQTT client id; keep it stable across restarts so the
	// broker resumes the persistent session.
	ClientID string
	// MQTTCAFile, MQTTCertFile and MQTTKeyFile are PEM files for a TLS
	// broker URL: the CA that signed the broker's certificate (the system
	// roots when empty), and the collector's client certificate and key.
	MQTTCAFile   string
	MQTTCertFile string
	MQTTKeyFile  string
	// MQTTTLS is the TLS configuration built from the files above for a
	// TLS broker URL (ssl://, tls://, mqtts://); nil for plain TCP.
	MQTTTLS *tls.Config

	// HTTPListen is the address of the operations server; empty disables
	// it.
	HTTPListen string
	// Pprof serves Go's profiler on the operations server.
	Pprof bool

	// Ingest pipeline tunables; zero means the pipeline's default.
	IngestWorkers    int
	IngestQueue      int
	IngestBatchReads int
	IngestBatchWait  time.Duration

	// Retention of dead letters, the oldest going first; 0 keeps no
	// bound of that kind.
	DeadLetterMaxAge      time.Duration
	DeadLetterMaxRows     int
	DeadLetterMaxPerAgent int

	Migrate    bool
	Version    bool
	ConfigDump bool

	LogLevel  slog.Level
	LogFormat string

	// ReadyFile, when set, is written (see shared/ready) once the
	// collector is subscribed, with the addresses it bound.
	ReadyFile string
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
		databaseFile string
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
		{&c.DatabaseURL, "database", "", "", "database URL: postgres://… or sqlite:PATH (default sqlite:<data-dir>/" + DefaultDatabaseFile + ") [" + EnvDatabaseURL + "]"},
		{&databaseFile, "database-url-file", "", "", "file holding the database URL, which carries the PostgreSQL password [" + EnvDatabaseURLFile + "]"},
		{&c.DataDir, "data-dir", EnvDataDir, DefaultDataDir, "directory of the embedded database, created if missing"},
		{&c.MQTTURL, "mqtt", EnvMQTTURL, "", "MQTT broker URL, tcp://host:port or ssl://host:port; empty embeds a broker"},
		{&c.MQTTUsername, "mqtt-username", EnvMQTTUsername, "", "MQTT user name"},
		{&password, "mqtt-password", "", "", "MQTT password [" + EnvMQTTPassword + "]"},
		{&passwordFile, "mqtt-password-file", "", "", "file holding the MQTT password [" + EnvMQTTPasswordFile + "]"},
		{&c.MQTTCAFile, "mqtt-ca-file", EnvMQTTCAFile, "", "PEM file of the CA that signed the broker's certificate, for an ssl:// broker (default: the system roots)"},
		{&c.MQTTCertFile, "mqtt-cert-file", EnvMQTTCertFile, "", "PEM file of the collector's client certificate, for an ssl:// broker; needs -mqtt-key-file"},
		{&c.MQTTKeyFile, "mqtt-key-file", EnvMQTTKeyFile, "", "PEM file of the client certificate's private key"},
		{&c.BrokerListen, "broker-listen", EnvBrokerListen, DefaultBrokerListen, "TCP address of the embedded broker; beyond loopback it needs -broker-password-file"},
		{&c.BrokerPasswordFile, "broker-password-file", EnvBrokerPasswords, "", "password file of the embedded broker, one user:hash line per agent (user = agent id) as mosquitto_passwd writes them (deploy/mosquitto/add-agent.sh); given, anonymous clients are refused and each agent may use only its own topics"},
		{&c.ShareGroup, "share-group", EnvShareGroup, topic.DefaultShareGroup, "shared-subscription group of the collector replicas"},
		{&c.ClientID, "client-id", EnvClientID, defaultClientID(), "MQTT client id; keep it stable across restarts"},
		{&c.HTTPListen, "http-listen", EnvHTTPListen, DefaultHTTPListen, "address of the operations server (/metrics, /healthz, /readyz); empty or " + HTTPListenOff + " disables it"},
		{&c.ReadyFile, "ready-file", "", "", "write the bound addresses as JSON to `FILE` once subscribed (for scripts and tests)"},
		{&logLevel, "log-level", EnvLogLevel, "info", "log level: debug, info, warn or error"},
		{&c.LogFormat, "log-format", EnvLogFormat, LogAuto, "log format: " + LogAuto + " (text on a terminal, JSON otherwise), " + LogText + " or " + LogJSON},
	}
	for _, f := range stringFlags {
		text := f.usage
		if f.env != "" {
			text += " [" + f.env + "]"
		}
		fs.StringVar(f.dst, f.name, f.fallback, text)
	}
	intFlags := []struct {
		dst      *int
		name     string
		env      string
		fallback int
		usage    string
	}{
		{&c.IngestWorkers, "ingest-workers", EnvIngestWorkers, 0, "transactions written at once; 0 takes the pipeline's default"},
		{&c.IngestQueue, "ingest-queue", EnvIngestQueue, 0, "messages received and waiting for a worker; 0 takes the pipeline's default"},
		{&c.IngestBatchReads, "ingest-batch-reads", EnvIngestBatchReads, 0, "most reads written in one transaction; 0 takes the pipeline's default"},
		{&c.DeadLetterMaxRows, "dead-letter-max-rows", EnvDeadLetterMaxRows, DefaultDeadLetterMaxRows, "most dead letters kept, the oldest going first; 0 keeps no bound"},
		{&c.DeadLetterMaxPerAgent, "dead-letter-max-per-agent", EnvDeadLetterMaxPerAgent, DefaultDeadLetterMaxPerAgent, "most dead letters kept per agent, the oldest going first; 0 keeps no bound"},
	}
	for _, f := range intFlags {
		fs.IntVar(f.dst, f.name, f.fallback, f.usage+" ["+f.env+"]")
	}
	durationFlags := []struct {
		dst      *time.Duration
		name     string
		env      string
		fallback time.Duration
		usage    string
	}{
		{&c.IngestBatchWait, "ingest-batch-wait", EnvIngestBatchWait, 0, "longest wait to fill a write transaction, e.g. 20ms; 0 takes the pipeline's default"},
		{&c.DeadLetterMaxAge, "dead-letter-max-age", EnvDeadLetterMaxAge, DefaultDeadLetterMaxAge, "how long dead letters are kept, e.g. 720h; 0 keeps no bound"},
	}
	for _, f := range durationFlags {
		fs.DurationVar(f.dst, f.name, f.fallback, f.usage+" ["+f.env+"]")
	}
	fs.BoolVar(&c.Pprof, "pprof", false, "also serve Go's profiler on the operations server, under /debug/pprof/ (for diagnosis; keep the address private)")
	fs.BoolVar(&c.Migrate, "migrate", false, "apply the database schema and exit")
	fs.BoolVar(&c.Version, "version", false, "print the version and exit")
	fs.BoolVar(&c.ConfigDump, "config-dump", false, "print the effective configuration, secrets redacted, and exit")

	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	stringEnv := map[string]string{}
	for _, f := range stringFlags {
		if f.env != "" {
			stringEnv[f.name] = f.env
		}
	}
	if err := envflag.Apply(fs, stringEnv, getenv); err != nil {
		return Config{}, err
	}
	given := envflag.Given(fs)
	var errs []error
	for _, f := range intFlags {
		if given[f.name] {
			continue
		}
		if v := getenv(f.env); v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: want a whole number", f.env, v))
			}
			*f.dst = n
		}
	}
	for _, f := range durationFlags {
		if given[f.name] {
			continue
		}
		if v := getenv(f.env); v != "" {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: want a duration such as 20ms or 720h", f.env, v))
			}
			*f.dst = d
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	if c.HTTPListen == HTTPListenOff {
		c.HTTPListen = ""
	}

	dbURL, err := envflag.ResolveSecret(envflag.SecretSource{
		What: "database URL", Flag: "-database", FlagFile: "-database-url-file", Env: EnvDatabaseURL, EnvFile: EnvDatabaseURLFile,
	}, c.DatabaseURL, databaseFile, getenv)
	if err != nil {
		return Config{}, err
	}
	c.DatabaseURL = dbURL
	pw, err := envflag.ResolveSecret(envflag.SecretSource{
		What: "MQTT password", Flag: "-mqtt-password", FlagFile: "-mqtt-password-file", Env: EnvMQTTPassword, EnvFile: EnvMQTTPasswordFile,
	}, password, passwordFile, getenv)
	if err != nil {
		return Config{}, err
	}
	c.MQTTPassword = Secret(pw)

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
	if c.MQTTTLS, err = c.BuildMQTTTLS(); err != nil {
		return Config{}, err
	}
	return c, nil
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
	if c.MQTTURL != "" && c.BrokerPasswordFile != "" {
		errs = append(errs, errors.New("-broker-password-file: set only with the embedded broker (no -mqtt)"))
	}
	// TLS files with a plain broker URL would be ignored: the operator
	// believes the link encrypted when it is not.
	if !c.MQTTOverTLS() {
		for _, f := range []struct{ name, value string }{
			{"-mqtt-ca-file", c.MQTTCAFile}, {"-mqtt-cert-file", c.MQTTCertFile}, {"-mqtt-key-file", c.MQTTKeyFile},
		} {
			if f.value != "" {
				errs = append(errs, fmt.Errorf("%s: set only with a TLS broker URL (ssl://, tls:// or mqtts://)", f.name))
			}
		}
	}
	if (c.MQTTCertFile == "") != (c.MQTTKeyFile == "") {
		errs = append(errs, errors.New("-mqtt-cert-file and -mqtt-key-file: set both or neither"))
	}
	if c.HTTPListen != "" {
		if _, _, err := net.SplitHostPort(c.HTTPListen); err != nil {
			errs = append(errs, fmt.Errorf("-http-listen %q: want host:port or :port, or empty to disable: %w", c.HTTPListen, err))
		}
	}
	for _, f := range []struct {
		name  string
		value int64
	}{
		{"-ingest-workers", int64(c.IngestWorkers)}, {"-ingest-queue", int64(c.IngestQueue)},
		{"-ingest-batch-reads", int64(c.IngestBatchReads)}, {"-ingest-batch-wait", int64(c.IngestBatchWait)},
	} {
		if f.value < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative (0 takes the pipeline's default)", f.name))
		}
	}
	for _, f := range []struct {
		name  string
		value int64
	}{
		{"-dead-letter-max-age", int64(c.DeadLetterMaxAge)}, {"-dead-letter-max-rows", int64(c.DeadLetterMaxRows)},
		{"-dead-letter-max-per-agent", int64(c.DeadLetterMaxPerAgent)},
	} {
		if f.value < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative (0 keeps no bound)", f.name))
		}
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
	if c.LogFormat != LogAuto && c.LogFormat != LogText && c.LogFormat != LogJSON {
		errs = append(errs, fmt.Errorf("-log-format %q: want auto, text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}

// brokerSchemes are the URL schemes paho dials over TCP, plain or TLS;
// true marks TLS.
var brokerSchemes = map[string]bool{"tcp": false, "mqtt": false, "ssl": true, "tls": true, "mqtts": true}

// MQTTOverTLS reports whether the broker URL asks for TLS.
func (c Config) MQTTOverTLS() bool {
	u, err := url.Parse(c.MQTTURL)
	return c.MQTTURL != "" && err == nil && brokerSchemes[u.Scheme]
}

// BuildMQTTTLS returns the TLS configuration of a TLS broker URL, or nil
// for plain TCP and the embedded broker. It reads the CA, certificate and
// key files, so a wrong path or a bad PEM file stops the start.
func (c Config) BuildMQTTTLS() (*tls.Config, error) {
	if !c.MQTTOverTLS() {
		return nil, nil
	}
	u, err := url.Parse(c.MQTTURL)
	if err != nil {
		return nil, fmt.Errorf("-mqtt: %w", err)
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// paho sets it when it dials directly but not through a proxy.
		ServerName: u.Hostname(),
	}
	if c.MQTTCAFile != "" {
		pem, err := os.ReadFile(c.MQTTCAFile)
		if err != nil {
			return nil, fmt.Errorf("-mqtt-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-mqtt-ca-file %s: no PEM certificate in it", c.MQTTCAFile)
		}
		cfg.RootCAs = pool
	}
	if c.MQTTCertFile != "" || c.MQTTKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.MQTTCertFile, c.MQTTKeyFile)
		if err != nil {
			return nil, fmt.Errorf("-mqtt-cert-file and -mqtt-key-file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func validateBrokerURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s is not a URL: %w", redact.URL(raw), redact.ParseError(err))
	}
	if _, ok := brokerSchemes[u.Scheme]; !ok {
		return fmt.Errorf("%q: scheme must be tcp:// or ssl:// (also mqtt://, tls://, mqtts://)", redact.URL(raw))
	}
	if u.Hostname() == "" || u.Port() == "" {
		return fmt.Errorf("%q: want scheme://host:port", redact.URL(raw))
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
	httpListen := c.HTTPListen
	if httpListen == "" {
		httpListen = HTTPListenOff // an empty variable would mean the default
	}
	lines := []struct{ name, value string }{
		{EnvDatabaseURL, redact.URL(c.DatabaseURL)},
		{EnvDataDir, c.DataDir},
		{EnvMQTTURL, redact.URL(c.MQTTURL)},
		{EnvMQTTUsername, c.MQTTUsername},
		{EnvMQTTPassword, c.MQTTPassword.String()},
		{EnvMQTTCAFile, c.MQTTCAFile},
		{EnvMQTTCertFile, c.MQTTCertFile},
		{EnvMQTTKeyFile, c.MQTTKeyFile},
		{EnvBrokerListen, c.BrokerListen},
		{EnvBrokerPasswords, c.BrokerPasswordFile},
		{EnvShareGroup, c.ShareGroup},
		{EnvClientID, c.ClientID},
		{EnvHTTPListen, httpListen},
		{EnvIngestWorkers, strconv.Itoa(c.IngestWorkers)},
		{EnvIngestQueue, strconv.Itoa(c.IngestQueue)},
		{EnvIngestBatchReads, strconv.Itoa(c.IngestBatchReads)},
		{EnvIngestBatchWait, c.IngestBatchWait.String()},
		{EnvDeadLetterMaxAge, c.DeadLetterMaxAge.String()},
		{EnvDeadLetterMaxRows, strconv.Itoa(c.DeadLetterMaxRows)},
		{EnvDeadLetterMaxPerAgent, strconv.Itoa(c.DeadLetterMaxPerAgent)},
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
