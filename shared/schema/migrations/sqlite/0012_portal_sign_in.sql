-- The SQLite twin of postgres/0012_portal_sign_in.sql: same tables and
-- columns; times as TIMESTAMP, JSON as TEXT, hashes as BLOB.
-- Portal sign-in (issue 15): server-side sessions, one-time links, the
-- attempts that rate-limit sign-in and password reset across replicas.
-- (Registrations the back office must link by hand are customer_requests
-- of kind serial_link, migration 0013.)

-- A signed-in browser. id is the SHA-256 of the cookie's 32 random bytes:
-- the database never holds a usable cookie. account_id is the account the
-- user acts for now (NULL: none yet); the portal checks on every request
-- that the user is still a member of it. A session ends at expires_at
-- (absolute) or when last_seen_at is older than the idle limit, whichever
-- comes first; sign-out and a password change delete the rows.
CREATE TABLE sessions (
    id            BLOB PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    account_id    INTEGER REFERENCES accounts (id),
    created_at    TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- A link sent by e-mail that works once: confirm a registration, reset a
-- password, confirm a new e-mail address, accept an invitation. Only the
-- SHA-256 of the link's 32 random bytes is kept. kind is free text (the
-- portal's constants) so that a new kind needs no migration; payload is
-- what the link carries (the registration's answers, the new address…).
-- user_id is NULL for a registration: the user exists once confirmed.
CREATE TABLE one_time_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    user_id     INTEGER REFERENCES users (id),
    token_hash  BLOB NOT NULL UNIQUE,
    payload     TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
CREATE INDEX one_time_tokens_user_id ON one_time_tokens (user_id);
CREATE INDEX one_time_tokens_expires_at ON one_time_tokens (expires_at);

-- Attempts counted by the rate limits: kind is what was attempted (login,
-- reset, register), subject whom it counts against ("email:…" or
-- "ip:…"). Every replica counts the same rows.
CREATE TABLE auth_attempts (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    kind     TEXT NOT NULL,
    subject  TEXT NOT NULL,
    at       TIMESTAMP NOT NULL
);
CREATE INDEX auth_attempts_subject ON auth_attempts (kind, subject, at);
CREATE INDEX auth_attempts_at ON auth_attempts (at);

-- The postal address a person gives at registration (seed 002).
ALTER TABLE users ADD COLUMN address TEXT NOT NULL DEFAULT '';

-- One primary user per account (seed 000: "l'utilisateur principal"); the
-- store checks it, the index makes two registrations at once unable to
-- both win.
CREATE UNIQUE INDEX memberships_one_primary ON memberships (account_id) WHERE role = 'primary';
