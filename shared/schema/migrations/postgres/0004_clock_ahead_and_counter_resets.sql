-- Reads stamped ahead of the collector's clock, and counter resets.

-- clock_ahead flags a read whose time lay more than wire.ClockSkewTolerance
-- past the collector's clock when it was stored (an agent clock running
-- fast). Such a read is kept, but it never becomes its device's latest read
-- and takes no part in reset detection or usage: its time cannot be trusted
-- to place it among the device's other reads.
ALTER TABLE meter_reads ADD COLUMN clock_ahead boolean NOT NULL DEFAULT false;
UPDATE meter_reads SET clock_ahead = true WHERE read_at > stored_at + interval '5 minutes';

-- Devices pinned by such a read before this migration go back to their
-- newest read on time (none: last seen when that read was stored).
UPDATE devices d
SET (last_read_at, last_seen) = (
    SELECT max(m.read_at) FILTER (WHERE NOT m.clock_ahead),
           COALESCE(max(m.read_at) FILTER (WHERE NOT m.clock_ahead), max(m.stored_at))
    FROM meter_reads m WHERE m.device_id = d.id)
WHERE EXISTS (SELECT 1 FROM meter_reads m WHERE m.device_id = d.id AND m.read_at = d.last_read_at AND m.clock_ahead);

-- The counters of each device's latest read on time (last_read_at): a read
-- newer than it is checked for a counter reset against them, without
-- looking up the read in meter_reads. NULL: no read on time, or the read
-- lacks the counter.
ALTER TABLE devices
    ADD COLUMN last_total bigint,
    ADD COLUMN last_black bigint,
    ADD COLUMN last_colour bigint;
UPDATE devices d
SET (last_total, last_black, last_colour) = (
    SELECT m.total, m.black, m.colour FROM meter_reads m WHERE m.device_id = d.id AND m.read_at = d.last_read_at)
WHERE d.last_read_at IS NOT NULL;

-- One row per counter found lower than the same kind in the device's read
-- before it (by read time, reads on time only): a board or meter swap, a
-- counter wrapping, a vendor counter gone negative. Usage restarts there
-- instead of going negative. Keyed by the lower read, so a backlog read
-- filed between two reads later replaces the row it makes stale.
CREATE TABLE counter_resets (
    device_id         bigint NOT NULL REFERENCES devices (id),
    kind              text NOT NULL,
    previous_value    bigint NOT NULL,
    previous_read_at  timestamptz NOT NULL,
    value             bigint NOT NULL,
    read_at           timestamptz NOT NULL,
    detected_at       timestamptz NOT NULL,
    PRIMARY KEY (device_id, kind, read_at)
);

-- The resets of the reads stored so far.
INSERT INTO counter_resets (device_id, kind, previous_value, previous_read_at, value, read_at, detected_at)
SELECT device_id, kind, previous_value, previous_read_at, value, read_at, now()
FROM (
    SELECT m.device_id, k.kind, k.value, m.read_at,
           lag(k.value) OVER w AS previous_value, lag(m.read_at) OVER w AS previous_read_at
    FROM meter_reads m
    CROSS JOIN LATERAL (VALUES ('total', m.total), ('black', m.black), ('colour', m.colour)) AS k (kind, value)
    WHERE NOT m.clock_ahead AND k.value IS NOT NULL
    WINDOW w AS (PARTITION BY m.device_id, k.kind ORDER BY m.read_at)
) r
WHERE value < previous_value;
