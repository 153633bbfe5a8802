// Package mail is Meterline's outgoing e-mail: an outbox table
// (email_outbox, schema 0007) written in the caller's transaction, and a
// Sender that delivers its rows over SMTP.
//
// # Enqueue
//
// Outbox.Enqueue renders the message (subject, plain text and HTML, in the
// recipient's language) and inserts it in the transaction the caller
// passes, so an e-mail exists iff the business change that caused it
// committed. The message is rendered at enqueue, not at send: what is sent
// is what was true when the change committed, a template deployed later
// does not rewrite queued mail, a template error rolls the caller back
// instead of failing in the background, and a resend carries the same
// bytes. The idempotency key makes the same e-mail enqueued twice one row.
//
// # Delivery guarantees
//
// A Sender claims due rows under a lease (status sending, lease_owner,
// lease_until): on PostgreSQL with FOR UPDATE SKIP LOCKED, so replicas
// share the work without waiting on each other; on SQLite the single
// writer serialises claims. A row is therefore sent by one sender at a
// time, and a row claimed by a sender that died (or lost its database)
// becomes claimable again when its lease expires, which survives restarts.
//
// SMTP has no idempotency, so the guarantee at the SMTP boundary is
// at-least-once: a sender stopped after the server accepted DATA but
// before it marked the row sent resends it on lease expiry. Every send of
// a row carries the same Message-ID (MessageID, derived from the row), so
// the duplicate is recognisable and mail systems that deduplicate by
// Message-ID show it once. The window is one SMTP reply plus one UPDATE.
//
// Failures are retried with exponential backoff and jitter up to
// MaxAttempts, after which the row is failed and keeps its last error.
package mail

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
)

// Status of an outbox row.
type Status string

// Statuses.
const (
	StatusPending Status = "pending"
	StatusSending Status = "sending"
	StatusSent    Status = "sent"
	StatusFailed  Status = "failed"
)

// Execer is what Enqueue writes through: the caller's *sql.Tx (or *sqlx.Tx).
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Message is an e-mail to enqueue.
type Message struct {
	// Key is the idempotency key: the same key enqueued twice is one
	// e-mail. Callers derive it from the business event, e.g.
	// "welcome:user:42".
	Key string
	// To is the recipient's address.
	To string
	// Lang is the recipient's language; one the portal does not speak
	// falls back to i18n.Default.
	Lang i18n.Lang
	// Template names the template (see Templates).
	Template string
	// Data is what the template reads; it is stored as JSON.
	Data any
}

// Outbox enqueues e-mails.
type Outbox struct {
	dialect   schema.Dialect
	templates *Templates
	now       func() time.Time
}

// NewOutbox returns an Outbox writing to a database of dialect d, rendering
// with the embedded templates. now is the clock (nil: time.Now).
func NewOutbox(d schema.Dialect, now func() time.Time) (*Outbox, error) {
	t, err := LoadTemplates()
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Outbox{dialect: d, templates: t, now: now}, nil
}

// Enqueue renders m and inserts it into the outbox through tx, the caller's
// transaction. It reports false when an e-mail with m.Key is already there
// (the row is left as it is).
func (o *Outbox) Enqueue(ctx context.Context, tx Execer, m Message) (bool, error) {
	if strings.TrimSpace(m.Key) == "" {
		return false, domain.Errorf(domain.EINVALID, "mail: idempotency key is empty")
	}
	addr, err := mail.ParseAddress(m.To)
	if err != nil {
		return false, domain.Errorf(domain.EINVALID, "mail: recipient %q: %v", m.To, err)
	}
	lang, ok := i18n.Parse(string(m.Lang))
	if !ok {
		lang = i18n.Default
	}
	r, err := o.templates.Render(m.Template, lang, m.Data)
	if err != nil {
		return false, err
	}
	data, err := json.Marshal(m.Data)
	if err != nil {
		return false, fmt.Errorf("mail: template data: %w", err)
	}
	now := o.now().UTC()
	q := `INSERT INTO email_outbox (idempotency_key, to_address, language, template, template_data,
        subject, body_text, body_html, status, attempts, next_attempt_at, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)
    ON CONFLICT (idempotency_key) DO NOTHING`
	res, err := tx.ExecContext(ctx, rebind(o.dialect, q), m.Key, addr.Address, string(lang), m.Template, string(data),
		r.Subject, r.Text, r.HTML, now, now)
	if err != nil {
		return false, fmt.Errorf("mail: enqueue %s: %w", m.Key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mail: enqueue %s: %w", m.Key, err)
	}
	return n == 1, nil
}

// MessageID is the Message-ID (without angle brackets) of outbox row id
// with idempotency key key, at domain host: the same on every send of the
// row, different across rows and across databases that reuse ids.
func MessageID(id int64, key, host string) string {
	sum := sha256.Sum256([]byte(key))
	return fmt.Sprintf("outbox.%d.%s@%s", id, hex.EncodeToString(sum[:8]), host)
}

// rebind writes the query's placeholders for the dialect.
func rebind(d schema.Dialect, q string) string { return schema.Rebind(d, q) }

// pruneBatch is how many rows one statement of PruneSent deletes: short
// statements leave the outbox to the sender between them.
const pruneBatch = 1000

// PruneSent deletes the e-mails sent before before (index
// email_outbox_sent_at), a batch at a time, and returns how many it
// deleted. Pending and failed e-mails are kept whatever their age.
func PruneSent(ctx context.Context, db *sql.DB, d schema.Dialect, before time.Time) (int64, error) {
	q := rebind(d, `DELETE FROM email_outbox WHERE id IN (
    SELECT id FROM email_outbox WHERE status = 'sent' AND sent_at < ? ORDER BY sent_at LIMIT ?)`)
	var total int64
	for {
		res, err := db.ExecContext(ctx, q, before.UTC(), pruneBatch)
		if err != nil {
			return total, fmt.Errorf("mail: prune sent e-mails: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("mail: prune sent e-mails: %w", err)
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}
