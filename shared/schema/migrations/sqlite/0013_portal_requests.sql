-- The customer portal's requests and invitations (issue 15).
-- The SQLite twin of postgres/0013_portal_requests.sql: same tables and
-- columns; times as TIMESTAMP text in UTC.

-- A request the back office handles: removing a device (the device turns
-- pending_removal at once, seed 000: shown with "*", no longer orderable),
-- grouping devices, linking a serial to an account (a registration or an
-- "add equipment" whose postal code did not match, or a serial another
-- account holds), or a contact-us message. account_id is NULL for a link
-- request made while registering, before any account is known; name,
-- email and phone then say who asks. The request is open until the back
-- office resolves it: resolved_at, who (a user, or a named part of the
-- system), outcome done or rejected, and a note.
CREATE TABLE customer_requests (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                 TEXT NOT NULL CHECK (kind IN ('removal', 'grouping', 'serial_link', 'contact')),
    account_id           INTEGER REFERENCES accounts (id),
    user_id              INTEGER REFERENCES users (id),
    serial               TEXT NOT NULL DEFAULT '',
    postal_code          TEXT NOT NULL DEFAULT '',
    name                 TEXT NOT NULL DEFAULT '',
    email                TEXT NOT NULL DEFAULT '',
    phone                TEXT NOT NULL DEFAULT '',
    subject              TEXT NOT NULL DEFAULT '',
    body                 TEXT NOT NULL DEFAULT '',
    created_at           TIMESTAMP NOT NULL,
    resolved_at          TIMESTAMP,
    resolved_by_user_id  INTEGER REFERENCES users (id),
    resolved_by_system   TEXT,
    outcome              TEXT CHECK (outcome IN ('done', 'rejected')),
    note                 TEXT NOT NULL DEFAULT '',
    CHECK ((resolved_at IS NULL) = (outcome IS NULL)),
    CHECK (resolved_at IS NULL OR (resolved_by_user_id IS NULL) <> (resolved_by_system IS NULL))
);
-- What the back office works through: open requests of a kind, oldest first.
CREATE INDEX customer_requests_open ON customer_requests (kind, created_at) WHERE resolved_at IS NULL;
CREATE INDEX customer_requests_account_id ON customer_requests (account_id, created_at);

-- The devices a removal (one) or a grouping (two or more) request is about.
CREATE TABLE customer_request_devices (
    request_id  INTEGER NOT NULL REFERENCES customer_requests (id),
    device_id   INTEGER NOT NULL REFERENCES devices (id),
    PRIMARY KEY (request_id, device_id)
);
CREATE INDEX customer_request_devices_device_id ON customer_request_devices (device_id);

-- An invitation to become a delegate of an account (seed 000: at most two
-- delegates, pending invitations counted). Only the SHA-256 of the
-- single-use token is kept (a 32-byte random secret, as for API tokens).
-- Pending: neither accepted nor cancelled, and not expired.
CREATE TABLE invitations (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id        INTEGER NOT NULL REFERENCES accounts (id),
    email             TEXT NOT NULL,
    language          TEXT NOT NULL CHECK (language IN ('fr', 'en')),
    token_hash        BLOB NOT NULL UNIQUE,
    invited_by        INTEGER NOT NULL REFERENCES users (id),
    created_at        TIMESTAMP NOT NULL,
    expires_at        TIMESTAMP NOT NULL,
    accepted_at       TIMESTAMP,
    accepted_user_id  INTEGER REFERENCES users (id),
    cancelled_at      TIMESTAMP
);
CREATE INDEX invitations_open ON invitations (account_id, expires_at) WHERE accepted_at IS NULL AND cancelled_at IS NULL;
