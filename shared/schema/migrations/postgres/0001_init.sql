-- Agents, devices and their meter reads: the first schema of Meterline.

CREATE TABLE agents (
    id          text PRIMARY KEY,
    version     text NOT NULL DEFAULT '',
    online      boolean NOT NULL DEFAULT false,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    status      jsonb
);

-- A device is known by its key (serial, else MAC, else agent + address; see
-- wire.DeviceRead.Key). account_id stays NULL until the back office attaches
-- the device to a customer account.
CREATE TABLE devices (
    id            bigserial PRIMARY KEY,
    device_key    text NOT NULL UNIQUE,
    serial        text NOT NULL DEFAULT '',
    mac           text NOT NULL DEFAULT '',
    vendor        text NOT NULL DEFAULT '',
    model         text NOT NULL DEFAULT '',
    firmware      text NOT NULL DEFAULT '',
    address       text NOT NULL DEFAULT '',
    agent_id      text REFERENCES agents (id),
    account_id    bigint,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    last_read_at  timestamptz
);

-- One row per batch committed: (agent, sequence) is the idempotency key of
-- what an agent publishes, so a re-delivered batch is recognised at once.
CREATE TABLE read_batches (
    agent_id     text NOT NULL,
    seq          bigint NOT NULL,
    reads        integer NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (agent_id, seq)
);

-- One row per device read; (device, read time) is the read's idempotency
-- key. total / black / colour are promoted from counters for billing.
CREATE TABLE meter_reads (
    device_id  bigint NOT NULL REFERENCES devices (id),
    read_at    timestamptz NOT NULL,
    agent_id   text NOT NULL,
    seq        bigint NOT NULL,
    total      bigint,
    black      bigint,
    colour     bigint,
    counters   jsonb NOT NULL,
    supplies   jsonb NOT NULL,
    status     jsonb,
    stored_at  timestamptz NOT NULL,
    PRIMARY KEY (device_id, read_at)
);

CREATE TABLE events (
    id          bigserial PRIMARY KEY,
    agent_id    text NOT NULL,
    event_id    text NOT NULL,
    kind        text NOT NULL,
    device_key  text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL,
    message     text NOT NULL DEFAULT '',
    payload     jsonb NOT NULL,
    stored_at   timestamptz NOT NULL,
    UNIQUE (agent_id, event_id)
);

-- Payloads refused by the collector, kept (bounded) with the reason.
CREATE TABLE dead_letters (
    id           bigserial PRIMARY KEY,
    received_at  timestamptz NOT NULL,
    topic        text NOT NULL,
    reason       text NOT NULL,
    payload      bytea NOT NULL
);
CREATE INDEX dead_letters_received_at ON dead_letters (received_at);
