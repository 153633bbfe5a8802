-- Back-office API tokens (issue 14). Only the SHA-256 of the secret is
-- stored: the secret is 32 random bytes, so a fast hash is enough (there is
-- nothing to brute-force, unlike a password) and a lookup by hash is one
-- index probe on every request, which bcrypt's per-token salt would forbid.
CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    secret_hash  BYTEA NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);
