package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net/mail"
	"os"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/meterline/meterline/shared/schema"
)

// TLSMode is how the sender secures its SMTP connection.
type TLSMode string

// TLS modes.
const (
	// STARTTLS upgrades a plain connection (port 587), and refuses a
	// server that does not offer it.
	STARTTLS TLSMode = "starttls"
	// ImplicitTLS speaks TLS from the first byte (port 465).
	ImplicitTLS TLSMode = "tls"
	// NoTLS sends in clear: for a mail catcher on the same box only.
	NoTLS TLSMode = "none"
)

// SMTPConfig is the SMTP server the sender relays through.
type SMTPConfig struct {
	Host string
	Port int
	TLS  TLSMode // "" is STARTTLS
	// TLSConfig overrides the TLS client configuration (tests trust their
	// own CA with it); nil verifies Host against the system roots.
	TLSConfig *tls.Config
	// Username and Password authenticate (SMTP AUTH, the strongest
	// mechanism the server offers) when Username is set.
	Username string
	Password string
	// Timeout bounds the connection and each SMTP command (default 30s).
	Timeout time.Duration
	// From is the sender address, e.g. "Meterline <noreply@example.com>".
	From string
}

// SenderConfig tunes a Sender. Zero values take the defaults.
type SenderConfig struct {
	// Owner names this sender in lease_owner (default host-pid-random).
	Owner string
	// Lease is how long a claimed row is this sender's (default 5m). It
	// must exceed the time a batch takes to send (Batch × the SMTP
	// timeouts), or another sender may take a row over mid-send.
	Lease time.Duration
	// Batch is how many rows one claim takes (default 10).
	Batch int
	// MaxAttempts is how many sends a row gets before it is failed
	// (default 8).
	MaxAttempts int
	// BaseBackoff and MaxBackoff bound the wait after a failed attempt n:
	// min(BaseBackoff·2^(n-1), MaxBackoff), of which the second half is
	// random jitter (defaults 1m and 6h).
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Poll is how long Run waits when nothing is due (default 10s).
	Poll time.Duration
	// MessageIDHost is the domain of the Message-IDs (default: From's).
	MessageIDHost string
	// Now is the clock leases and backoff are computed on (default
	// time.Now); Jitter returns a number in [0, 1) (default math/rand).
	Now    func() time.Time
	Jitter func() float64
	Logger *slog.Logger
}

// Sender delivers the outbox.
type Sender struct {
	db      *sql.DB
	dialect schema.Dialect
	smtp    SMTPConfig
	cfg     SenderConfig
	from    *mail.Address
}

// NewSender returns a sender of the outbox in db over the SMTP server smtp.
func NewSender(db *sql.DB, d schema.Dialect, smtp SMTPConfig, cfg SenderConfig) (*Sender, error) {
	from, err := mail.ParseAddress(smtp.From)
	if err != nil {
		return nil, fmt.Errorf("mail: sender address %q: %w", smtp.From, err)
	}
	if smtp.Host == "" || smtp.Port <= 0 {
		return nil, fmt.Errorf("mail: SMTP host and port are required")
	}
	switch smtp.TLS {
	case "":
		smtp.TLS = STARTTLS
	case STARTTLS, ImplicitTLS, NoTLS:
	default:
		return nil, fmt.Errorf("mail: SMTP TLS mode %q: want starttls, tls or none", smtp.TLS)
	}
	if smtp.Timeout <= 0 {
		smtp.Timeout = 30 * time.Second
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		cfg.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 5 * time.Minute
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 10
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = time.Minute
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 6 * time.Hour
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 10 * time.Second
	}
	if cfg.MessageIDHost == "" {
		_, cfg.MessageIDHost, _ = strings.Cut(from.Address, "@")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = mathrand.Float64 //nolint:gosec // jitter spreads retries; it protects nothing
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{db: db, dialect: d, smtp: smtp, cfg: cfg, from: from}, nil
}

// Run sends due e-mails until ctx ends, polling every cfg.Poll when there
// is nothing to send. Rows it holds when ctx ends are left to their lease.
func (s *Sender) Run(ctx context.Context) error {
	for {
		n, err := s.RunOnce(ctx)
		if ctx.Err() != nil {
			return nil //nolint:nilerr // a cancelled context is the way to stop
		}
		if err != nil {
			s.cfg.Logger.Warn("mail: send round failed", "err", err)
		}
		if err == nil && n == s.cfg.Batch {
			continue // more may be due
		}
		t := time.NewTimer(s.cfg.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// row is a claimed outbox row.
type row struct {
	ID       int64
	Key      string
	To       string
	Lang     string
	Subject  string
	Text     string
	HTML     string
	Attempts int
}

// RunOnce claims up to cfg.Batch due rows, sends them over one SMTP
// connection and records each outcome. It returns how many it claimed.
// When ctx ends mid-round, nothing more is written: the rows still
// claimed go back to the queue when their lease expires.
func (s *Sender) RunOnce(ctx context.Context) (int, error) {
	rows, err := s.claim(ctx)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	client, err := s.client()
	if err != nil {
		return len(rows), err
	}
	conn, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		for _, r := range rows {
			if ferr := s.fail(ctx, r, fmt.Errorf("connect: %w", err), false); ferr != nil {
				return len(rows), ferr
			}
		}
		return len(rows), nil
	}
	defer client.CloseWithSMTPClient(conn) //nolint:errcheck // the outcomes are recorded; a failed QUIT changes none
	for _, r := range rows {
		if err := ctx.Err(); err != nil {
			return len(rows), err
		}
		msg, err := s.message(r)
		if err == nil {
			err = client.SendWithSMTPClient(conn, msg)
		}
		if err != nil {
			if ferr := s.fail(ctx, r, err, permanent(err)); ferr != nil {
				return len(rows), ferr
			}
			continue
		}
		if err := s.markSent(ctx, r); err != nil {
			return len(rows), err
		}
	}
	return len(rows), nil
}

func (s *Sender) client() (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.smtp.Port),
		gomail.WithTimeout(s.smtp.Timeout),
	}
	tlsConf := s.smtp.TLSConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{ServerName: s.smtp.Host, MinVersion: tls.VersionTLS12}
	}
	switch s.smtp.TLS {
	case ImplicitTLS:
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSConfig(tlsConf))
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithTLSConfig(tlsConf))
	}
	if s.smtp.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.smtp.Username), gomail.WithPassword(s.smtp.Password))
	}
	c, err := gomail.NewClient(s.smtp.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP client: %w", err)
	}
	return c, nil
}

func (s *Sender) message(r row) (*gomail.Msg, error) {
	m := gomail.NewMsg()
	if err := m.FromFormat(s.from.Name, s.from.Address); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := m.To(r.To); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	m.Subject(r.Subject)
	m.SetMessageIDWithValue(MessageID(r.ID, r.Key, s.cfg.MessageIDHost))
	m.SetDateWithValue(s.cfg.Now())
	m.SetGenHeader(gomail.HeaderContentLang, r.Lang)
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetBodyString(gomail.TypeTextPlain, r.Text)
	m.AddAlternativeString(gomail.TypeTextHTML, r.HTML)
	return m, nil
}

// permanent reports an SMTP 5xx reply: retrying will not help.
func permanent(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && se.ErrorCode() >= 500 && se.ErrorCode() < 600
}

// claim leases up to cfg.Batch due rows: pending ones whose time has come
// and sending ones whose lease expired (their sender died).
func (s *Sender) claim(ctx context.Context) ([]row, error) {
	now := s.cfg.Now().UTC()
	lock := ""
	if s.dialect == schema.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	q := `UPDATE email_outbox
    SET status = 'sending', lease_owner = ?, lease_until = ?, attempts = attempts + 1
    WHERE id IN (
        SELECT id FROM email_outbox
        WHERE status IN ('pending', 'sending') AND next_attempt_at <= ?
          AND (status = 'pending' OR lease_until <= ?)
        ORDER BY next_attempt_at, id
        LIMIT ?` + lock + `)
    RETURNING id, idempotency_key, to_address, language, subject, body_text, body_html, attempts`
	rs, err := s.db.QueryContext(ctx, rebind(s.dialect, q), s.cfg.Owner, now.Add(s.cfg.Lease), now, now, s.cfg.Batch)
	if err != nil {
		return nil, fmt.Errorf("mail: claim: %w", err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.ID, &r.Key, &r.To, &r.Lang, &r.Subject, &r.Text, &r.HTML, &r.Attempts); err != nil {
			return nil, fmt.Errorf("mail: claim: %w", err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("mail: claim: %w", err)
	}
	return out, nil
}

func (s *Sender) markSent(ctx context.Context, r row) error {
	q := `UPDATE email_outbox
    SET status = 'sent', sent_at = ?, lease_owner = NULL, lease_until = NULL, last_error = NULL
    WHERE id = ? AND status = 'sending' AND lease_owner = ?`
	return s.settle(ctx, r, "sent", q, s.cfg.Now().UTC(), r.ID, s.cfg.Owner)
}

// fail records a failed attempt: the row waits for its backoff, or is
// failed when its attempts are spent or the error is permanent.
func (s *Sender) fail(ctx context.Context, r row, cause error, perm bool) error {
	status, next := StatusPending, s.cfg.Now().UTC().Add(s.Backoff(r.Attempts))
	if perm || r.Attempts >= s.cfg.MaxAttempts {
		status = StatusFailed
	}
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	s.cfg.Logger.Warn("mail: send failed", "id", r.ID, "attempt", r.Attempts, "status", string(status), "err", msg)
	q := `UPDATE email_outbox
    SET status = ?, next_attempt_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL
    WHERE id = ? AND status = 'sending' AND lease_owner = ?`
	return s.settle(ctx, r, string(status), q, string(status), next, msg, r.ID, s.cfg.Owner)
}

func (s *Sender) settle(ctx context.Context, r row, what, q string, args ...any) error {
	res, err := s.db.ExecContext(ctx, rebind(s.dialect, q), args...)
	if err != nil {
		return fmt.Errorf("mail: mark %d %s: %w", r.ID, what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("mail: mark %d %s: %w", r.ID, what, err)
	}
	if n == 0 {
		// Another sender took the row over after our lease expired: it
		// owns the outcome now (and may send it again: at-least-once).
		s.cfg.Logger.Warn("mail: lease lost before the outcome was recorded", "id", r.ID, "outcome", what)
		return nil
	}
	return nil
}

// Backoff is the wait after failed attempt n (1-based).
func (s *Sender) Backoff(n int) time.Duration {
	d := s.cfg.BaseBackoff
	for i := 1; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	return d/2 + time.Duration(s.cfg.Jitter()*float64(d/2))
}
