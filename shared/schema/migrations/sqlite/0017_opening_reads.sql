-- The SQLite twin of postgres/0017_opening_reads.sql: same table and
-- columns; times as TIMESTAMP text in UTC.

-- The meters of a device when it was put under a contract (issue 16): the
-- supplier's installation or takeover read, which the first invoice bills
-- from. A real read of the device: billing counts it in the device's
-- history (estimates, jumps) like a read typed in. One per device and
-- contract; at least one meter.
CREATE TABLE opening_reads (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id    INTEGER NOT NULL REFERENCES devices (id),
    contract_id  INTEGER NOT NULL REFERENCES contracts (id),
    read_at      TIMESTAMP NOT NULL,
    black        INTEGER CHECK (black >= 0),
    colour       INTEGER CHECK (colour >= 0),
    total        INTEGER CHECK (total >= 0),
    created_at   TIMESTAMP NOT NULL,
    UNIQUE (device_id, contract_id),
    CHECK (black IS NOT NULL OR colour IS NOT NULL OR total IS NOT NULL)
);
