-- The SQLite twin of postgres/0003_settle_batches.sql. SQLite cannot change
-- a primary key: read_batches is rebuilt.

ALTER TABLE read_batches RENAME TO read_batches_0002;
CREATE TABLE read_batches (
    agent_id     TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    batch_key    TEXT NOT NULL,
    reads        INTEGER NOT NULL,
    received_at  TIMESTAMP NOT NULL,
    refused      TEXT,
    PRIMARY KEY (agent_id, seq, batch_key)
);
INSERT INTO read_batches (agent_id, seq, batch_key, reads, received_at)
SELECT agent_id, seq, '', reads, received_at FROM read_batches_0002;
DROP TABLE read_batches_0002;

ALTER TABLE dead_letters ADD COLUMN agent_id TEXT NOT NULL DEFAULT '';
ALTER TABLE dead_letters ADD COLUMN seq INTEGER;
ALTER TABLE dead_letters ADD COLUMN batch_key TEXT;
ALTER TABLE dead_letters ADD COLUMN read_index INTEGER;
ALTER TABLE dead_letters ADD COLUMN fingerprint TEXT;
ALTER TABLE dead_letters ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dead_letters ADD COLUMN last_received_at TIMESTAMP;
-- 'meterline/v1/agents/' is 20 characters: the agent id follows, up to '/'.
UPDATE dead_letters SET agent_id = substr(topic, 21, instr(substr(topic, 21), '/') - 1)
WHERE topic LIKE 'meterline/v1/agents/%/%';
CREATE UNIQUE INDEX dead_letters_fingerprint ON dead_letters (fingerprint);
CREATE INDEX dead_letters_agent_id ON dead_letters (agent_id, id);
