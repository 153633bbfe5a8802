-- The SQLite twin of postgres/0002_ingest_at_scale.sql. SQLite has no table
-- partitioning: a single box's reads stay in one table, indexed the same.

CREATE INDEX meter_reads_read_at ON meter_reads (read_at);

ALTER TABLE agents ADD COLUMN outbox_depth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN outbox_dropped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN status_at TIMESTAMP;

CREATE INDEX devices_account_id ON devices (account_id);
CREATE INDEX devices_unassigned ON devices (first_seen) WHERE account_id IS NULL;
CREATE INDEX devices_agent_id ON devices (agent_id);

CREATE INDEX events_device_key_at ON events (device_key, at);
