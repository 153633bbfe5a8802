-- Ownership at ingest (issue 14): see the PostgreSQL migration. SQLite can
-- drop neither the column UNIQUE of device_key nor a CHECK: the table is
-- rebuilt, ids kept. Foreign keys are on and cannot be turned off inside
-- the migration's transaction; deferred, the rows meter_reads and
-- counter_resets lose when devices is dropped are found again when the new
-- table is filled, before the commit checks them.
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
    state            TEXT CHECK (state IN ('unconfirmed', 'active', 'pending_removal', 'removed')),
    replenishment    TEXT CHECK (replenishment IN ('eligible', 'active', 'ineligible')),
    owner            TEXT NOT NULL
);
INSERT INTO devices (id, device_key, serial, mac, vendor, model, firmware, address, agent_id, account_id,
    first_seen, last_seen, last_read_at, last_total, last_black, last_colour,
    product_code, contract_id, location_id, read_contact_id, state, replenishment, owner)
SELECT id, device_key, serial, mac, vendor, model, firmware, address, agent_id, account_id,
       first_seen, last_seen, last_read_at, last_total, last_black, last_colour,
       product_code, contract_id, location_id, read_contact_id, state, replenishment,
       CASE WHEN account_id IS NOT NULL AND device_key LIKE 'sn:%' THEN 'acct:' || account_id
            ELSE 'agent:' || COALESCE(agent_id, '') END
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
