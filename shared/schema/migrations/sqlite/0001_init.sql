-- Agents, devices and their meter reads: the first schema of Meterline.
-- The SQLite twin of postgres/0001_init.sql: same tables and columns.
-- Times are stored as RFC 3339 text in UTC (declared TIMESTAMP so that the
-- driver parses them back); JSON as text.

CREATE TABLE agents (
    id          TEXT PRIMARY KEY,
    version     TEXT NOT NULL DEFAULT '',
    online      BOOLEAN NOT NULL DEFAULT 0,
    first_seen  TIMESTAMP NOT NULL,
    last_seen   TIMESTAMP NOT NULL,
    status      TEXT
);

CREATE TABLE devices (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    device_key    TEXT NOT NULL UNIQUE,
    serial        TEXT NOT NULL DEFAULT '',
    mac           TEXT NOT NULL DEFAULT '',
    vendor        TEXT NOT NULL DEFAULT '',
    model         TEXT NOT NULL DEFAULT '',
    firmware      TEXT NOT NULL DEFAULT '',
    address       TEXT NOT NULL DEFAULT '',
    agent_id      TEXT REFERENCES agents (id),
    account_id    INTEGER,
    first_seen    TIMESTAMP NOT NULL,
    last_seen     TIMESTAMP NOT NULL,
    last_read_at  TIMESTAMP
);

CREATE TABLE read_batches (
    agent_id     TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    reads        INTEGER NOT NULL,
    received_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (agent_id, seq)
);

CREATE TABLE meter_reads (
    device_id  INTEGER NOT NULL REFERENCES devices (id),
    read_at    TIMESTAMP NOT NULL,
    agent_id   TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    total      INTEGER,
    black      INTEGER,
    colour     INTEGER,
    counters   TEXT NOT NULL,
    supplies   TEXT NOT NULL,
    status     TEXT,
    stored_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (device_id, read_at)
);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    device_key  TEXT NOT NULL DEFAULT '',
    at          TIMESTAMP NOT NULL,
    message     TEXT NOT NULL DEFAULT '',
    payload     TEXT NOT NULL,
    stored_at   TIMESTAMP NOT NULL,
    UNIQUE (agent_id, event_id)
);

CREATE TABLE dead_letters (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at  TIMESTAMP NOT NULL,
    topic        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    payload      BLOB NOT NULL
);
CREATE INDEX dead_letters_received_at ON dead_letters (received_at);
