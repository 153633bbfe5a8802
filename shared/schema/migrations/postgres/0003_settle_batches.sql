-- Every batch is settled with its agent (issue 11): batches keyed by their
-- batch key as well, the reads refused alone kept with their batch, and
-- dead letters that say whose they are, count their repeats and can be
-- pruned per agent.

-- A batch is known by (agent, sequence, batch key): the key is the batch id
-- the agent's outbox drew, or a hash of the payload (wire.ReadBatch.BatchKey),
-- so a sequence reused after a reinstall is a new batch, not a duplicate.
-- Batches stored before have the key '': their key is unknown, and a batch
-- re-sent with their (agent, sequence) counts as theirs. refused lists the
-- reads refused alone, [{"index":…,"reason":…}], so that a re-sent batch
-- is acknowledged with the same list; NULL when none was.
ALTER TABLE read_batches RENAME TO read_batches_0002;
ALTER TABLE read_batches_0002 RENAME CONSTRAINT read_batches_pkey TO read_batches_0002_pkey;
CREATE TABLE read_batches (
    agent_id     text NOT NULL,
    seq          bigint NOT NULL,
    batch_key    text NOT NULL,
    reads        integer NOT NULL,
    received_at  timestamptz NOT NULL,
    refused      json,
    PRIMARY KEY (agent_id, seq, batch_key)
);
INSERT INTO read_batches (agent_id, seq, batch_key, reads, received_at)
SELECT agent_id, seq, '', reads, received_at FROM read_batches_0002;
DROP TABLE read_batches_0002;

-- Dead letters name their agent (the topic's) for the per-agent cap, and
-- for a read batch its sequence, batch key and, for a read refused alone,
-- its index. fingerprint identifies what was refused (the payload and its
-- topic, or the read in its batch): the same thing refused again bumps
-- repeats instead of adding a row.
ALTER TABLE dead_letters ADD COLUMN agent_id text NOT NULL DEFAULT '';
ALTER TABLE dead_letters ADD COLUMN seq bigint;
ALTER TABLE dead_letters ADD COLUMN batch_key text;
ALTER TABLE dead_letters ADD COLUMN read_index integer;
ALTER TABLE dead_letters ADD COLUMN fingerprint text;
ALTER TABLE dead_letters ADD COLUMN repeats integer NOT NULL DEFAULT 0;
ALTER TABLE dead_letters ADD COLUMN last_received_at timestamptz;
UPDATE dead_letters SET agent_id = split_part(topic, '/', 4) WHERE topic LIKE 'meterline/v1/agents/%/%';
CREATE UNIQUE INDEX dead_letters_fingerprint ON dead_letters (fingerprint);
CREATE INDEX dead_letters_agent_id ON dead_letters (agent_id, id);
