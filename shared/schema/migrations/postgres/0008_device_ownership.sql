-- Ownership at ingest (issue 14). A device is identified by its key within
-- an owner scope, no longer by its key alone: owner is "acct:<id>" for a
-- serial-keyed device of an account (every agent of the account reaches
-- it, no other account's agent can) and "agent:<id>" for a device only
-- that agent reaches (keyed by MAC, address or a placeholder serial, or
-- read by an agent registered to no account). See wire.Owner. The same
-- serial under two accounts is two rows, never one: a conflict the back
-- office lists. A device an agent of an account reports that the account
-- has not registered is created in state 'unconfirmed', its reads kept,
-- for the back office to confirm (put it under contract) or reject.
ALTER TABLE devices ADD COLUMN owner text;
UPDATE devices SET owner = CASE
    WHEN account_id IS NOT NULL AND device_key LIKE 'sn:%' THEN 'acct:' || account_id
    ELSE 'agent:' || COALESCE(agent_id, '') END;
ALTER TABLE devices ALTER COLUMN owner SET NOT NULL;

ALTER TABLE devices DROP CONSTRAINT devices_device_key_key;
CREATE UNIQUE INDEX devices_owner_key ON devices (owner, device_key);
-- The devices of one serial across owners (conflicts, registration).
CREATE INDEX devices_device_key ON devices (device_key);
-- Two agents of an account may each have a device of one MAC or address
-- key: (account_id, device_key) identifies a device only for a serial.
DROP INDEX devices_account_key;
CREATE INDEX devices_account_key ON devices (account_id, device_key);

ALTER TABLE devices DROP CONSTRAINT devices_state_check;
ALTER TABLE devices ADD CONSTRAINT devices_state_check
    CHECK (state IN ('unconfirmed', 'active', 'pending_removal', 'removed'));
