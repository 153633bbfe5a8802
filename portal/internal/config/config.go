// Package config reads the portal's configuration from its command line
// and environment. Flags override the environment; the result is a value
// handed to the parts that need it, never a global.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/meterline/meterline/shared/envflag"
)

// Environment variables the portal reads.
const (
	EnvListen       = "METERLINE_PORTAL_LISTEN"
	EnvDatabase     = "METERLINE_DATABASE_URL"
	EnvDatabaseFile = "METERLINE_DATABASE_URL_FILE"
	EnvLogLevel     = "METERLINE_LOG_LEVEL"
)

// Defaults. The database default is the embedded SQLite file a single box
// shares with its collector.
const (
	DefaultListen   = "127.0.0.1:8080"
	DefaultDatabase = "sqlite:./data/meterline.db"
	DefaultLogLevel = "info"
)

// Config is the portal's configuration.
type Config struct {
	// Listen is the TCP address the web server binds, host:port.
	Listen string
	// Database is the database URL: postgres://… or sqlite:PATH.
	Database string
	// LogLevel is the lowest level logged.
	LogLevel slog.Level
	// Version asks to print the version and exit.
	Version bool
	// ReadyFile, when set, is written (see shared/ready) once the portal
	// listens, with the address it bound ("http").
	ReadyFile string
}

// ErrHelp is returned by Parse when -h or -help was given; the usage has
// been written.
var ErrHelp = flag.ErrHelp

// Parse reads the configuration from args (without the program name) over
// the environment getenv reads. Usage and flag errors are written to
// output.
func Parse(args []string, getenv func(string) string, output io.Writer) (Config, error) {
	fs := flag.NewFlagSet("meterline-portal", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintf(output, "Usage: meterline-portal [flags]\n\nThe Meterline customer web site.\n\nFlags (each overrides its environment variable):\n")
		fs.PrintDefaults()
	}
	// Flag defaults are static and the environment is applied after
	// parsing, so that -h never prints the database URL (and its password)
	// of the environment.
	var c Config
	var level, databaseFile string
	fs.StringVar(&c.Listen, "listen", DefaultListen, "address to serve HTTP on, host:port ("+EnvListen+")")
	fs.StringVar(&c.Database, "database", "",
		"database URL: postgres://… or sqlite:PATH (default "+DefaultDatabase+") ("+EnvDatabase+")")
	fs.StringVar(&databaseFile, "database-url-file", "",
		"file holding the database URL, which carries the PostgreSQL password ("+EnvDatabaseFile+")")
	fs.StringVar(&level, "log-level", DefaultLogLevel, "lowest level logged: debug, info, warn or error ("+EnvLogLevel+")")
	fs.BoolVar(&c.Version, "version", false, "print the version and exit")
	fs.StringVar(&c.ReadyFile, "ready-file", "", "write the bound address as JSON to `FILE` once listening (for scripts and tests)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := envflag.Apply(fs, map[string]string{"listen": EnvListen, "log-level": EnvLogLevel}, getenv); err != nil {
		return Config{}, err
	}
	database, err := envflag.ResolveSecret(envflag.SecretSource{
		What: "database URL", Flag: "-database", FlagFile: "-database-url-file", Env: EnvDatabase, EnvFile: EnvDatabaseFile,
	}, c.Database, databaseFile, getenv)
	if err != nil {
		return Config{}, err
	}
	c.Database = database
	if c.Database == "" && !envflag.Given(fs)["database"] {
		c.Database = DefaultDatabase
	}
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return Config{}, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks the values that can be checked without side effects.
func (c Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Listen) == "" {
		errs = append(errs, errors.New("listen address is empty"))
	}
	if strings.TrimSpace(c.Database) == "" {
		errs = append(errs, errors.New("database URL is empty"))
	}
	return errors.Join(errs...)
}
