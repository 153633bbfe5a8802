-- E-mail outbox (issue 14): an e-mail is a row written in the transaction
-- of the business change that causes it, so it exists iff that change
-- committed; the portal's sender claims due rows under a lease, sends them
-- over SMTP and marks them sent, retrying with backoff.
--
-- The message is rendered at enqueue (subject, body_text, body_html): what
-- is sent is what the change committed, a template deployed later does not
-- rewrite it, a rendering error fails the caller's transaction instead of
-- the sender, and a resend after a crash carries the same bytes. template
-- and template_data are kept to say where it came from.
--
-- status: pending (waiting for next_attempt_at), sending (claimed by
-- lease_owner until lease_until; an expired lease is claimable again),
-- sent, failed (attempts exhausted). idempotency_key makes the same e-mail
-- enqueued twice one row; the Message-ID header is derived from id and it.
CREATE TABLE email_outbox (
    id               bigserial PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    to_address       text NOT NULL,
    language         text NOT NULL,
    template         text NOT NULL,
    template_data    jsonb NOT NULL,
    subject          text NOT NULL,
    body_text        text NOT NULL,
    body_html        text NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    lease_owner      text,
    lease_until      timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz
);

-- What the sender scans: rows still to send, by when they are due.
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE status IN ('pending', 'sending');
