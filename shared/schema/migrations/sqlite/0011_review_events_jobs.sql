-- Ownership follow-ups (issue 14) and scheduled jobs. The SQLite twin of
-- postgres/0011_review_events_jobs.sql: see there for the why.

-- A device's state may be 'rejected'. SQLite cannot change a CHECK: the
-- table is rebuilt, ids kept, as 0008 did (foreign keys deferred: the rows
-- of meter_reads and counter_resets lose their device when the table is
-- dropped and find it again when the new one is filled, before the commit
-- checks them).
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE devices_before AS SELECT * FROM devices;
DROP TABLE devices;
CREATE TABLE devices (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    device_key       TEXT NOT NULL,
    serial           TEXT NOT NULL DEFAULT '',
    mac              TEXT NOT NULL DEFAULT '',
    vendor           TEXT NOT NULL DEFAULT '',
    model            TEXT NOT NULL DEFAULT '',
    firmware         TEXT NOT NULL DEFAULT '',
    address          TEXT NOT NULL DEFAULT '',
    agent_id         TEXT REFERENCES agents (id),
    account_id       INTEGER,
    first_seen       TIMESTAMP NOT NULL,
    last_seen        TIMESTAMP NOT NULL,
    last_read_at     TIMESTAMP,
    last_total       INTEGER,
    last_black       INTEGER,
    last_colour      INTEGER,
    product_code     TEXT NOT NULL DEFAULT '',
    contract_id      INTEGER REFERENCES contracts (id),
    location_id      INTEGER REFERENCES shipping_locations (id),
    read_contact_id  INTEGER REFERENCES users (id),
    state            TEXT CHECK (state IN ('unconfirmed', 'rejected', 'active', 'pending_removal', 'removed')),
    replenishment    TEXT CHECK (replenishment IN ('eligible', 'active', 'ineligible')),
    owner            TEXT NOT NULL
);
INSERT INTO devices (id, device_key, serial, mac, vendor, model, firmware, address, agent_id, account_id,
    first_seen, last_seen, last_read_at, last_total, last_black, last_colour,
    product_code, contract_id, location_id, read_contact_id, state, replenishment, owner)
SELECT id, device_key, serial, mac, vendor, model, firmware, address, agent_id, account_id,
    first_seen, last_seen, last_read_at, last_total, last_black, last_colour,
    product_code, contract_id, location_id, read_contact_id, state, replenishment, owner
FROM devices_before;
DROP TABLE devices_before;
CREATE UNIQUE INDEX devices_owner_key ON devices (owner, device_key);
CREATE INDEX devices_device_key ON devices (device_key);
CREATE INDEX devices_account_key ON devices (account_id, device_key);
CREATE INDEX devices_account_id ON devices (account_id);
CREATE INDEX devices_unassigned ON devices (first_seen) WHERE account_id IS NULL;
CREATE INDEX devices_agent_id ON devices (agent_id);
CREATE INDEX devices_contract_id ON devices (contract_id);
CREATE INDEX devices_location_id ON devices (location_id);
CREATE INDEX devices_unconfirmed ON devices (account_id, first_seen) WHERE state = 'unconfirmed';

-- Events name their device by (owner, device_key).
ALTER TABLE events ADD COLUMN owner TEXT NOT NULL DEFAULT '';
UPDATE events SET owner = CASE
    WHEN device_key LIKE 'sn:%' AND (SELECT a.account_id FROM agents a WHERE a.id = events.agent_id) IS NOT NULL
        THEN 'acct:' || (SELECT a.account_id FROM agents a WHERE a.id = events.agent_id)
    ELSE 'agent:' || agent_id END
WHERE device_key <> '';
DROP INDEX events_device_key_at;
CREATE INDEX events_device_at ON events (owner, device_key, at);

-- Scheduled jobs' leases (shared/jobs).
CREATE TABLE job_leases (
    name              TEXT PRIMARY KEY,
    owner             TEXT,
    lease_until       TIMESTAMP,
    last_started_at   TIMESTAMP,
    last_finished_at  TIMESTAMP,
    last_error        TEXT
);

-- The e-mail outbox's housekeeping deletes sent e-mails by age.
CREATE INDEX email_outbox_sent_at ON email_outbox (sent_at) WHERE status = 'sent';
