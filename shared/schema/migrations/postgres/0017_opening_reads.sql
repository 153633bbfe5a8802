-- The meters of a device when it was put under a contract (issue 16): the
-- supplier's installation or takeover read, which the first invoice bills
-- from. A real read of the device: billing counts it in the device's
-- history (estimates, jumps) like a read typed in. One per device and
-- contract; at least one meter.
CREATE TABLE opening_reads (
    id           bigserial PRIMARY KEY,
    device_id    bigint NOT NULL REFERENCES devices (id),
    contract_id  bigint NOT NULL REFERENCES contracts (id),
    read_at      timestamptz NOT NULL,
    black        bigint CHECK (black >= 0),
    colour       bigint CHECK (colour >= 0),
    total        bigint CHECK (total >= 0),
    created_at   timestamptz NOT NULL,
    UNIQUE (device_id, contract_id),
    CHECK (black IS NOT NULL OR colour IS NOT NULL OR total IS NOT NULL)
);
