-- Ownership follow-ups (issue 14) and scheduled jobs.

-- The back office rejects a device an account's agent reported that the
-- account has not registered (state 'unconfirmed'): the device keeps its
-- reads, is never billed (no contract), and ingest, which never sets the
-- state of a device it knows, neither re-creates nor re-activates it.
ALTER TABLE devices DROP CONSTRAINT devices_state_check;
ALTER TABLE devices ADD CONSTRAINT devices_state_check
    CHECK (state IN ('unconfirmed', 'rejected', 'active', 'pending_removal', 'removed'));
-- The back office's list of devices to confirm or reject.
CREATE INDEX devices_unconfirmed ON devices (account_id, first_seen) WHERE state = 'unconfirmed';

-- An event of a device names it as its reads do, by (owner, device_key)
-- (wire.Owner): the key alone is one serial across accounts, and two
-- accounts' devices of one serial must never share events. owner is ''
-- for an event of no device. Events stored before take the owner their
-- agent's account gives now.
ALTER TABLE events ADD COLUMN owner text NOT NULL DEFAULT '';
UPDATE events SET owner = CASE
    WHEN device_key LIKE 'sn:%' AND (SELECT a.account_id FROM agents a WHERE a.id = events.agent_id) IS NOT NULL
        THEN 'acct:' || (SELECT a.account_id FROM agents a WHERE a.id = events.agent_id)
    ELSE 'agent:' || agent_id END
WHERE device_key <> '';
DROP INDEX events_device_key_at;
CREATE INDEX events_device_at ON events (owner, device_key, at);

-- Scheduled jobs (shared/jobs): one row per job, the lease that makes a
-- run happen once across replicas. A replica claims a due job (last
-- finished at least its interval ago, no live lease) by setting owner and
-- lease_until in one conditional statement; a replica that dies mid-run
-- leaves a lease that expires. When the next run is due is read from
-- here, so a restart does not run a job early.
CREATE TABLE job_leases (
    name              text PRIMARY KEY,
    owner             text,
    lease_until       timestamptz,
    last_started_at   timestamptz,
    last_finished_at  timestamptz,
    last_error        text
);

-- The e-mail outbox's housekeeping deletes sent e-mails by age.
CREATE INDEX email_outbox_sent_at ON email_outbox (sent_at) WHERE status = 'sent';
