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
	"net"
	"net/mail"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/shared/envflag"
	"github.com/meterline/meterline/shared/schema"
)

// Environment variables the portal reads.
const (
	EnvListen       = "METERLINE_PORTAL_LISTEN"
	EnvDatabase     = "METERLINE_DATABASE_URL"
	EnvDatabaseFile = "METERLINE_DATABASE_URL_FILE"
	EnvLogLevel     = "METERLINE_LOG_LEVEL"

	EnvSMTPHost         = "METERLINE_SMTP_HOST"
	EnvSMTPPort         = "METERLINE_SMTP_PORT"
	EnvSMTPMode         = "METERLINE_SMTP_MODE"
	EnvSMTPUser         = "METERLINE_SMTP_USER"
	EnvSMTPPassword     = "METERLINE_SMTP_PASSWORD"      //nolint:gosec // a variable's name, not a credential
	EnvSMTPPasswordFile = "METERLINE_SMTP_PASSWORD_FILE" //nolint:gosec // a variable's name, not a credential
	EnvMailFrom         = "METERLINE_MAIL_FROM"
	EnvMailRetention    = "METERLINE_MAIL_RETENTION"

	EnvPublicURL      = "METERLINE_PORTAL_URL"
	EnvSecureCookies  = "METERLINE_SECURE_COOKIES"
	EnvTrustedProxies = "METERLINE_TRUSTED_PROXIES"
	EnvSessionIdle    = "METERLINE_SESSION_IDLE"
	EnvSessionMaxAge  = "METERLINE_SESSION_MAX_AGE"
	EnvLoginLimit     = "METERLINE_LOGIN_LIMIT"
	EnvResetLimit     = "METERLINE_RESET_LIMIT"
	EnvRegisterLimit  = "METERLINE_REGISTER_LIMIT"

	EnvBackOfficeEmail = "METERLINE_BACKOFFICE_EMAIL"

	EnvReadWindowBefore = "METERLINE_READ_WINDOW_BEFORE"
	EnvReadWindowAfter  = "METERLINE_READ_WINDOW_AFTER"
	EnvReadReminders    = "METERLINE_READ_REMINDERS"
	EnvReadCloseAfter   = "METERLINE_READ_CLOSE_AFTER"
	EnvReadMinHistory   = "METERLINE_READ_MIN_HISTORY"
	EnvReadJump         = "METERLINE_READ_JUMP"
	EnvReadEstimates    = "METERLINE_READ_ESTIMATES_IN_A_ROW"

	EnvUploadDir      = "METERLINE_UPLOAD_DIR"
	EnvUploadMaxBytes = "METERLINE_UPLOAD_MAX_BYTES"
)

// SMTP modes: how the connection to the SMTP server is secured.
const (
	SMTPStartTLS = "starttls" // upgrade a plain connection; port 587
	SMTPTLS      = "tls"      // TLS from the first byte; port 465
	SMTPNone     = "none"     // in clear: a mail catcher on the same box only
)

// Defaults. The database default is the embedded SQLite file a single box
// shares with its collector.
const (
	DefaultListen   = "127.0.0.1:8080"
	DefaultDatabase = "sqlite:./data/meterline.db"
	DefaultLogLevel = "info"
	DefaultSMTPMode = SMTPStartTLS
	// DefaultSMTPPort is the port of the starttls and none modes; tls
	// defaults to DefaultSMTPTLSPort.
	DefaultSMTPPort    = 587
	DefaultSMTPTLSPort = 465
	// DefaultMailRetention is how long sent e-mails stay in the outbox.
	DefaultMailRetention = 90 * 24 * time.Hour
	// DefaultBackOfficeEmail is where contact-us messages go when no
	// address is given: the back office's mailbox on the portal's own box.
	DefaultBackOfficeEmail = "backoffice@localhost"
	// DefaultUploadMaxBytes bounds a photo sent with a meter read: a
	// phone's full-size picture fits.
	DefaultUploadMaxBytes = 8 << 20
	// MaxUploadMaxBytes is the most -upload-max-bytes may allow: a form
	// is read whole before it is checked.
	MaxUploadMaxBytes = 64 << 20
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
	// SMTP is the server e-mail is sent through; sending is off when its
	// Host is empty.
	SMTP SMTP
	// MailRetention is how long a sent e-mail is kept in the outbox
	// before the daily housekeeping deletes it; 0 keeps them all.
	MailRetention time.Duration
	// SignIn configures sessions and the sign-in forms.
	SignIn SignIn
	// BackOfficeEmail is the address the customers' contact-us messages
	// are e-mailed to.
	BackOfficeEmail string
	// Billing is how billing reads are chosen, campaigns run and
	// estimates made (issue 16); billing.DefaultConfig unless flags
	// change it.
	Billing billing.Config
	// Uploads is where the files customers send are kept.
	Uploads Uploads
}

// Uploads configures the files customers send (the photos of meter
// reads): kept in a folder of their own, which nothing serves.
type Uploads struct {
	// Dir is the folder; by default "uploads" beside the SQLite database
	// file (the data directory), or ./data/uploads on PostgreSQL.
	Dir string
	// MaxBytes bounds one file.
	MaxBytes int64
}

// UploadDirFor is the default upload folder for a database URL: beside an
// SQLite file, else data/uploads under the working directory.
func UploadDirFor(database string) string {
	if src, err := schema.ParseSource(database); err == nil && src.Dialect == schema.SQLite {
		return filepath.Join(filepath.Dir(src.Path), "uploads")
	}
	return filepath.Join("data", "uploads")
}

// SignIn configures sessions and the forms a guesser would use. Zero
// values mean the portal's defaults (package web).
type SignIn struct {
	// PublicURL is the portal's address as its users reach it
	// (https://portal.example.com): e-mailed links start with it. Empty:
	// http:// and the address the portal listens on.
	PublicURL string
	// SecureCookies marks cookies Secure even on plain-HTTP requests (TLS
	// ended at a proxy that does not send X-Forwarded-Proto).
	SecureCookies bool
	// TrustedProxies are the proxies whose X-Forwarded-For is believed.
	TrustedProxies []*net.IPNet
	// SessionIdle and SessionMaxAge bound a session.
	SessionIdle   time.Duration
	SessionMaxAge time.Duration
	// LoginLimit, ResetLimit and RegisterLimit are the rate limits.
	LoginLimit    Limit
	ResetLimit    Limit
	RegisterLimit Limit
}

// Limit is a rate limit: attempts per e-mail and per client address in a
// window, written PER_EMAIL,PER_ADDRESS/WINDOW (5,50/15m).
type Limit struct {
	PerEmail, PerAddress int
	Window               time.Duration
}

// String writes a limit as it is read.
func (l Limit) String() string {
	if l == (Limit{}) {
		return ""
	}
	return fmt.Sprintf("%d,%d/%s", l.PerEmail, l.PerAddress, l.Window)
}

// parseLimit reads PER_EMAIL,PER_ADDRESS/WINDOW.
func parseLimit(s string) (Limit, error) {
	counts, window, ok := strings.Cut(strings.TrimSpace(s), "/")
	email, addr, ok2 := strings.Cut(counts, ",")
	var l Limit
	var err1, err2, err3 error
	l.PerEmail, err1 = strconv.Atoi(strings.TrimSpace(email))
	l.PerAddress, err2 = strconv.Atoi(strings.TrimSpace(addr))
	l.Window, err3 = time.ParseDuration(strings.TrimSpace(window))
	if !ok || !ok2 || err1 != nil || err2 != nil || err3 != nil || l.PerEmail < 1 || l.PerAddress < 1 || l.Window <= 0 {
		return Limit{}, fmt.Errorf("rate limit %q: want PER_EMAIL,PER_ADDRESS/WINDOW, e.g. 5,50/15m", s)
	}
	return l, nil
}

// parseReminders reads three durations separated by commas.
func parseReminders(s string) ([3]time.Duration, error) {
	var out [3]time.Duration
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return out, fmt.Errorf("reminders %q: want three durations, e.g. 168h,336h,504h", s)
	}
	for i, p := range parts {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil {
			return out, fmt.Errorf("reminders %q: want three durations, e.g. 168h,336h,504h", s)
		}
		out[i] = d
	}
	return out, nil
}

// parseJump reads FACTOR,FLOOR.
func parseJump(s string) (float64, int64, error) {
	f, fl, ok := strings.Cut(s, ",")
	factor, err1 := strconv.ParseFloat(strings.TrimSpace(f), 64)
	floor, err2 := strconv.ParseInt(strings.TrimSpace(fl), 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("jump rule %q: want FACTOR,FLOOR, e.g. 3,1000", s)
	}
	return factor, floor, nil
}

// parseCIDRs reads a comma-separated list of addresses and networks.
func parseCIDRs(s string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			if ip := net.ParseIP(part); ip != nil && ip.To4() != nil {
				part += "/32"
			} else {
				part += "/128"
			}
		}
		_, n, err := net.ParseCIDR(part)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want an address or a network, e.g. 10.0.0.0/8", part)
		}
		out = append(out, n)
	}
	return out, nil
}

// SMTP is the SMTP server the portal's e-mail goes through.
type SMTP struct {
	// Host is the server's name; "" turns sending off (e-mails stay in
	// the outbox).
	Host string
	// Port is the server's TCP port.
	Port int
	// Mode is SMTPStartTLS, SMTPTLS or SMTPNone.
	Mode string
	// User and Password authenticate when User is set.
	User     string
	Password string
	// From is the sender address, e.g. "Meterline <noreply@example.com>".
	From string
}

// Enabled says whether e-mail is sent.
func (s SMTP) Enabled() bool { return s.Host != "" }

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
	var smtpPasswordFile string
	fs.StringVar(&c.SMTP.Host, "smtp-host", "", "SMTP server e-mail is sent through; empty turns sending off ("+EnvSMTPHost+")")
	fs.IntVar(&c.SMTP.Port, "smtp-port", 0,
		fmt.Sprintf("SMTP server port (default %d, or %d with -smtp-mode tls) (%s)", DefaultSMTPPort, DefaultSMTPTLSPort, EnvSMTPPort))
	fs.StringVar(&c.SMTP.Mode, "smtp-mode", DefaultSMTPMode,
		"SMTP connection security: starttls, tls (implicit, port 465) or none (a local mail catcher only) ("+EnvSMTPMode+")")
	fs.StringVar(&c.SMTP.User, "smtp-user", "", "SMTP user name; empty sends without authenticating ("+EnvSMTPUser+")")
	fs.StringVar(&c.SMTP.Password, "smtp-password", "", "SMTP password; prefer -smtp-password-file ("+EnvSMTPPassword+")")
	fs.StringVar(&smtpPasswordFile, "smtp-password-file", "", "file holding the SMTP password ("+EnvSMTPPasswordFile+")")
	fs.StringVar(&c.SMTP.From, "mail-from", "", "sender address of the portal's e-mail, e.g. \"Meterline <noreply@example.com>\" ("+EnvMailFrom+")")
	fs.DurationVar(&c.MailRetention, "mail-retention", DefaultMailRetention,
		"how long sent e-mails stay in the outbox, e.g. 2160h; 0 keeps them ("+EnvMailRetention+")")
	si := &c.SignIn
	fs.StringVar(&si.PublicURL, "public-url", "", "the portal's address as users reach it, which e-mailed links start with, e.g. https://portal.example.com (default http:// and the listen address) ("+EnvPublicURL+")")
	fs.BoolVar(&si.SecureCookies, "secure-cookies", false, "mark cookies Secure even on plain-HTTP requests, when TLS ends at a proxy that does not send X-Forwarded-Proto ("+EnvSecureCookies+")")
	fs.Func("trusted-proxies", "comma-separated addresses or networks of the proxies whose X-Forwarded-For is believed ("+EnvTrustedProxies+")", func(v string) error {
		var err error
		si.TrustedProxies, err = parseCIDRs(v)
		return err
	})
	fs.DurationVar(&si.SessionIdle, "session-idle", 0, "a session without a request for this long ends (default 1h) ("+EnvSessionIdle+")")
	fs.DurationVar(&si.SessionMaxAge, "session-max-age", 0, "a session ends this long after sign-in whatever happens (default 12h) ("+EnvSessionMaxAge+")")
	limitFlag := func(name, env, def string, dst *Limit) {
		fs.Func(name, "rate limit PER_EMAIL,PER_ADDRESS/WINDOW (default "+def+") ("+env+")", func(v string) error {
			var err error
			*dst, err = parseLimit(v)
			return err
		})
	}
	limitFlag("login-limit", EnvLoginLimit, "5,50/15m", &si.LoginLimit)
	limitFlag("reset-limit", EnvResetLimit, "3,20/1h", &si.ResetLimit)
	limitFlag("register-limit", EnvRegisterLimit, "5,20/1h", &si.RegisterLimit)
	fs.StringVar(&c.BackOfficeEmail, "backoffice-email", DefaultBackOfficeEmail,
		"address the customers' contact-us messages are e-mailed to ("+EnvBackOfficeEmail+")")
	c.Billing = billing.DefaultConfig()
	b := &c.Billing
	fs.DurationVar(&b.Window.Before, "read-window-before", b.Window.Before,
		"an agent read this long before a billing period's end can be its billing read ("+EnvReadWindowBefore+")")
	fs.DurationVar(&b.Window.After, "read-window-after", b.Window.After,
		"an agent read this long after a billing period's end can be its billing read; the period closes once it is over ("+EnvReadWindowAfter+")")
	fs.Func("read-reminders", "when the three reminders of a meter-read campaign go, after the invitation (default 168h,336h,504h) ("+EnvReadReminders+")", func(v string) error {
		var err error
		b.Reminders, err = parseReminders(v)
		return err
	})
	fs.DurationVar(&b.CloseAfter, "read-close-after", b.CloseAfter,
		"a meter-read campaign closes this long after its third reminder, and the period is estimated ("+EnvReadCloseAfter+")")
	fs.DurationVar(&b.MinHistory, "read-min-history", b.MinHistory,
		"read history an estimate from a device's own usage needs; with less, the contract's expected volume is used ("+EnvReadMinHistory+")")
	fs.Func("read-jump", "FACTOR,FLOOR: a read (an agent's or typed in) whose usage since the last real read is FLOOR pages or more, at over FACTOR times the device's daily average of the 90 days before, is flagged for review (default 3,1000) ("+EnvReadJump+")", func(v string) error {
		var err error
		b.Jump.Factor, b.Jump.Floor, err = parseJump(v)
		return err
	})
	fs.IntVar(&b.EstimatesInARow, "read-estimates-in-a-row", b.EstimatesInARow,
		"the estimate that makes this many periods in a row estimated for a device is flagged repeated_estimate and waits for the back office's review; 0 never holds one ("+EnvReadEstimates+")")
	fs.StringVar(&c.Uploads.Dir, "upload-dir", "",
		"folder the photos sent with meter reads are kept in, never served (default: uploads beside the SQLite database, or ./data/uploads) ("+EnvUploadDir+")")
	fs.Int64Var(&c.Uploads.MaxBytes, "upload-max-bytes", DefaultUploadMaxBytes, "largest photo taken with a meter read, in bytes ("+EnvUploadMaxBytes+")")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := envflag.Apply(fs, map[string]string{
		"listen": EnvListen, "log-level": EnvLogLevel,
		"smtp-host": EnvSMTPHost, "smtp-port": EnvSMTPPort, "smtp-mode": EnvSMTPMode,
		"smtp-user": EnvSMTPUser, "mail-from": EnvMailFrom, "mail-retention": EnvMailRetention,
		"public-url": EnvPublicURL, "secure-cookies": EnvSecureCookies, "trusted-proxies": EnvTrustedProxies,
		"session-idle": EnvSessionIdle, "session-max-age": EnvSessionMaxAge,
		"login-limit": EnvLoginLimit, "reset-limit": EnvResetLimit, "register-limit": EnvRegisterLimit,
		"backoffice-email": EnvBackOfficeEmail, "upload-dir": EnvUploadDir, "upload-max-bytes": EnvUploadMaxBytes,
		"read-window-before": EnvReadWindowBefore, "read-window-after": EnvReadWindowAfter, "read-reminders": EnvReadReminders,
		"read-close-after": EnvReadCloseAfter, "read-min-history": EnvReadMinHistory, "read-jump": EnvReadJump,
		"read-estimates-in-a-row": EnvReadEstimates,
	}, getenv); err != nil {
		return Config{}, err
	}
	password, err := envflag.ResolveSecret(envflag.SecretSource{
		What: "SMTP password", Flag: "-smtp-password", FlagFile: "-smtp-password-file", Env: EnvSMTPPassword, EnvFile: EnvSMTPPasswordFile,
	}, c.SMTP.Password, smtpPasswordFile, getenv)
	if err != nil {
		return Config{}, err
	}
	c.SMTP.Password = password
	c.SMTP.Mode = strings.ToLower(strings.TrimSpace(c.SMTP.Mode))
	if c.SMTP.Port == 0 {
		c.SMTP.Port = DefaultSMTPPort
		if c.SMTP.Mode == SMTPTLS {
			c.SMTP.Port = DefaultSMTPTLSPort
		}
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
	if c.Uploads.Dir == "" {
		c.Uploads.Dir = UploadDirFor(c.Database)
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
	if c.MailRetention < 0 {
		errs = append(errs, fmt.Errorf("mail retention %v is negative", c.MailRetention))
	}
	if a, err := mail.ParseAddress(c.BackOfficeEmail); err != nil || a.Address != strings.TrimSpace(c.BackOfficeEmail) {
		errs = append(errs, fmt.Errorf("back-office address %q: want one e-mail address (name@example.com)", c.BackOfficeEmail))
	}
	if c.Uploads.MaxBytes < 1 || c.Uploads.MaxBytes > MaxUploadMaxBytes {
		errs = append(errs, fmt.Errorf("upload size limit %d: want 1 to %d bytes", c.Uploads.MaxBytes, MaxUploadMaxBytes))
	}
	errs = append(errs, c.SMTP.validate(), c.SignIn.validate(), c.Billing.Check())
	return errors.Join(errs...)
}

// validate checks the public URL and the session bounds.
func (s SignIn) validate() error {
	var errs []error
	if s.PublicURL != "" {
		u, err := url.Parse(s.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("public URL %q: want http(s)://host[:port]", s.PublicURL))
		}
	}
	if s.SessionIdle < 0 || s.SessionMaxAge < 0 {
		errs = append(errs, errors.New("session durations cannot be negative"))
	}
	if s.SessionIdle > 0 && s.SessionMaxAge > 0 && s.SessionIdle > s.SessionMaxAge {
		errs = append(errs, fmt.Errorf("session idle limit %s exceeds the maximum age %s", s.SessionIdle, s.SessionMaxAge))
	}
	return errors.Join(errs...)
}

// validate checks the SMTP settings; with no host, there is nothing to
// check (sending is off).
func (s SMTP) validate() error {
	if !s.Enabled() {
		return nil
	}
	var errs []error
	switch s.Mode {
	case SMTPStartTLS, SMTPTLS, SMTPNone:
	default:
		errs = append(errs, fmt.Errorf("SMTP mode %q: want starttls, tls or none", s.Mode))
	}
	if s.Port <= 0 || s.Port > 65535 {
		errs = append(errs, fmt.Errorf("SMTP port %d: want 1 to 65535", s.Port))
	}
	if s.Password != "" && s.User == "" {
		errs = append(errs, errors.New("SMTP password given without a user"))
	}
	if strings.TrimSpace(s.From) == "" {
		errs = append(errs, errors.New("SMTP host given without a sender address (-mail-from)"))
	} else if _, err := mail.ParseAddress(s.From); err != nil {
		errs = append(errs, fmt.Errorf("sender address %q: %w", s.From, err))
	}
	return errors.Join(errs...)
}
