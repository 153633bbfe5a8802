-- The SQLite twin of postgres/0007_email_outbox.sql: same table and
-- columns. Times are RFC 3339-like text in UTC, compared as text; JSON as
-- text. SQLite has one writer at a time, so a claim is one UPDATE and needs
-- no SKIP LOCKED.
CREATE TABLE email_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key  TEXT NOT NULL UNIQUE,
    to_address       TEXT NOT NULL,
    language         TEXT NOT NULL,
    template         TEXT NOT NULL,
    template_data    TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body_text        TEXT NOT NULL,
    body_html        TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP NOT NULL,
    lease_owner      TEXT,
    lease_until      TIMESTAMP,
    last_error       TEXT,
    created_at       TIMESTAMP NOT NULL,
    sent_at          TIMESTAMP
);

CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE status IN ('pending', 'sending');
