-- The customer domain (issue 14): accounts, their shipping locations,
-- contracts, the devices under contract, the agents registered to an
-- account, users and their roles on accounts, and the audit of every state
-- change. Ownership at ingest builds on it in a later step; nothing here
-- changes what the collector does with a read.
-- The SQLite twin of postgres/0006_customer_domain.sql: same tables and
-- columns; times as TIMESTAMP text in UTC, dates as DATE, booleans 0/1.

-- A customer account, known to the supplier by its customer number.
CREATE TABLE accounts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_number  TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    language         TEXT NOT NULL DEFAULT 'fr' CHECK (language IN ('fr', 'en')),
    created_at       TIMESTAMP NOT NULL
);

-- Where an account's supplies ship. attention, suite and phone are the
-- fields a customer may edit online; the address itself (company to
-- country) only the back office changes (seed 004: "grayed out" fields).
CREATE TABLE shipping_locations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    attention    TEXT NOT NULL DEFAULT '',
    suite        TEXT NOT NULL DEFAULT '',
    phone        TEXT NOT NULL DEFAULT '',
    company      TEXT NOT NULL DEFAULT '',
    street       TEXT NOT NULL DEFAULT '',
    city         TEXT NOT NULL DEFAULT '',
    province     TEXT NOT NULL DEFAULT '',
    postal_code  TEXT NOT NULL DEFAULT '',
    country      TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX shipping_locations_account_id ON shipping_locations (account_id);

-- A cost-per-copy contract of an account: the meters it bills (at least
-- one) each billing period, from its start to its end (NULL: open-ended).
CREATE TABLE contracts (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    number                   TEXT NOT NULL UNIQUE,
    account_id               INTEGER NOT NULL REFERENCES accounts (id),
    billing_period           TEXT NOT NULL DEFAULT 'quarterly' CHECK (billing_period IN ('quarterly', 'monthly')),
    bills_black              BOOLEAN NOT NULL DEFAULT 0,
    bills_colour             BOOLEAN NOT NULL DEFAULT 0,
    bills_total              BOOLEAN NOT NULL DEFAULT 0,
    start_date               DATE NOT NULL,
    end_date                 DATE,
    expected_monthly_volume  INTEGER NOT NULL DEFAULT 0 CHECK (expected_monthly_volume >= 0),
    created_at               TIMESTAMP NOT NULL,
    CHECK (bills_black OR bills_colour OR bills_total),
    CHECK (end_date IS NULL OR end_date >= start_date)
);
CREATE INDEX contracts_account_id ON contracts (account_id);

-- A person who signs in to the portal (or works in the back office). The
-- e-mail is unique whatever its case; password_hash is NULL until the
-- person sets a password (registration confirmed, invitation accepted).
CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    email          TEXT NOT NULL,
    name           TEXT NOT NULL DEFAULT '',
    phone          TEXT NOT NULL DEFAULT '',
    language       TEXT NOT NULL DEFAULT 'fr' CHECK (language IN ('fr', 'en')),
    password_hash  TEXT,
    created_at     TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- A user's role on an account: one role per user and account; at most two
-- delegates per account (the store enforces it, seed 000).
CREATE TABLE memberships (
    user_id     INTEGER NOT NULL REFERENCES users (id),
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    role        TEXT NOT NULL CHECK (role IN ('primary', 'delegate', 'back_office')),
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, account_id)
);
CREATE INDEX memberships_account_id ON memberships (account_id, role);

-- Every state change, with who made it (a user, or a named part of the
-- system such as "import" or "ingest") and when. old_value is NULL when
-- the thing had no state before.
CREATE TABLE state_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    entity      TEXT NOT NULL,
    entity_id   INTEGER NOT NULL,
    field       TEXT NOT NULL,
    old_value   TEXT,
    new_value   TEXT,
    by_user_id  INTEGER REFERENCES users (id),
    by_system   TEXT,
    at          TIMESTAMP NOT NULL,
    CHECK ((by_user_id IS NULL) <> (by_system IS NULL))
);
CREATE INDEX state_changes_entity ON state_changes (entity, entity_id, at);

-- An agent is registered to one account (NULL: not yet registered).
ALTER TABLE agents ADD COLUMN account_id INTEGER REFERENCES accounts (id);
CREATE INDEX agents_account_id ON agents (account_id);

-- A device under contract is a row of devices, the table the collector
-- writes: one identity per printer, whether the back office registered it
-- first or an agent read it first. Its key is the collector's
-- ("sn:" + wire.NormalizeSerial(serial)), so reads of the serial, whatever
-- its case or padding, land on it. contract_id is NULL for a device not
-- under contract (as every device ingest creates); state and
-- replenishment are then NULL too. model is the one column the agents
-- also write: what the device reports replaces what was registered.
-- devices.account_id keeps no foreign key in this step: SQLite cannot add
-- one to an existing column, and the collector attaches devices by id.
ALTER TABLE devices ADD COLUMN product_code TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN contract_id INTEGER REFERENCES contracts (id);
ALTER TABLE devices ADD COLUMN location_id INTEGER REFERENCES shipping_locations (id);
ALTER TABLE devices ADD COLUMN read_contact_id INTEGER REFERENCES users (id);
ALTER TABLE devices ADD COLUMN state TEXT CHECK (state IN ('active', 'pending_removal', 'removed'));
ALTER TABLE devices ADD COLUMN replenishment TEXT CHECK (replenishment IN ('eligible', 'active', 'ineligible'));

-- A device of an account by its normalised serial (device_key): the
-- lookup of registration, "add equipment" and, later, of ingest.
CREATE UNIQUE INDEX devices_account_key ON devices (account_id, device_key);
CREATE INDEX devices_contract_id ON devices (contract_id);
CREATE INDEX devices_location_id ON devices (location_id);
