-- The customer portal's requests and invitations (issue 15).

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
    id                   bigserial PRIMARY KEY,
    kind                 text NOT NULL CHECK (kind IN ('removal', 'grouping', 'serial_link', 'contact')),
    account_id           bigint REFERENCES accounts (id),
    user_id              bigint REFERENCES users (id),
    serial               text NOT NULL DEFAULT '',
    postal_code          text NOT NULL DEFAULT '',
    name                 text NOT NULL DEFAULT '',
    email                text NOT NULL DEFAULT '',
    phone                text NOT NULL DEFAULT '',
    subject              text NOT NULL DEFAULT '',
    body                 text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL,
    resolved_at          timestamptz,
    resolved_by_user_id  bigint REFERENCES users (id),
    resolved_by_system   text,
    outcome              text CHECK (outcome IN ('done', 'rejected')),
    note                 text NOT NULL DEFAULT '',
    CHECK ((resolved_at IS NULL) = (outcome IS NULL)),
    CHECK (resolved_at IS NULL OR (resolved_by_user_id IS NULL) <> (resolved_by_system IS NULL))
);
-- What the back office works through: open requests of a kind, oldest first.
CREATE INDEX customer_requests_open ON customer_requests (kind, created_at) WHERE resolved_at IS NULL;
CREATE INDEX customer_requests_account_id ON customer_requests (account_id, created_at);

-- The devices a removal (one) or a grouping (two or more) request is about.
CREATE TABLE customer_request_devices (
    request_id  bigint NOT NULL REFERENCES customer_requests (id),
    device_id   bigint NOT NULL REFERENCES devices (id),
    PRIMARY KEY (request_id, device_id)
);
CREATE INDEX customer_request_devices_device_id ON customer_request_devices (device_id);

-- An invitation to become a delegate of an account (seed 000: at most two
-- delegates, pending invitations counted). Only the SHA-256 of the
-- single-use token is kept (a 32-byte random secret, as for API tokens).
-- Pending: neither accepted nor cancelled, and not expired.
CREATE TABLE invitations (
    id                bigserial PRIMARY KEY,
    account_id        bigint NOT NULL REFERENCES accounts (id),
    email             text NOT NULL,
    language          text NOT NULL CHECK (language IN ('fr', 'en')),
    token_hash        bytea NOT NULL UNIQUE,
    invited_by        bigint NOT NULL REFERENCES users (id),
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    accepted_at       timestamptz,
    accepted_user_id  bigint REFERENCES users (id),
    cancelled_at      timestamptz
);
CREATE INDEX invitations_open ON invitations (account_id, expires_at) WHERE accepted_at IS NULL AND cancelled_at IS NULL;
