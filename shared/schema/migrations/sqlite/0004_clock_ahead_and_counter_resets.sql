-- The SQLite twin of postgres/0004_clock_ahead_and_counter_resets.sql.

ALTER TABLE meter_reads ADD COLUMN clock_ahead BOOLEAN NOT NULL DEFAULT 0;
UPDATE meter_reads SET clock_ahead = 1 WHERE julianday(read_at) > julianday(stored_at) + 5.0 / 1440;

UPDATE devices
SET (last_read_at, last_seen) = (
    SELECT max(CASE WHEN NOT m.clock_ahead THEN m.read_at END),
           COALESCE(max(CASE WHEN NOT m.clock_ahead THEN m.read_at END), max(m.stored_at))
    FROM meter_reads m WHERE m.device_id = devices.id)
WHERE EXISTS (SELECT 1 FROM meter_reads m WHERE m.device_id = devices.id AND m.read_at = devices.last_read_at AND m.clock_ahead);

ALTER TABLE devices ADD COLUMN last_total INTEGER;
ALTER TABLE devices ADD COLUMN last_black INTEGER;
ALTER TABLE devices ADD COLUMN last_colour INTEGER;
UPDATE devices
SET (last_total, last_black, last_colour) = (
    SELECT m.total, m.black, m.colour FROM meter_reads m WHERE m.device_id = devices.id AND m.read_at = devices.last_read_at)
WHERE last_read_at IS NOT NULL;

CREATE TABLE counter_resets (
    device_id         INTEGER NOT NULL REFERENCES devices (id),
    kind              TEXT NOT NULL,
    previous_value    INTEGER NOT NULL,
    previous_read_at  TIMESTAMP NOT NULL,
    value             INTEGER NOT NULL,
    read_at           TIMESTAMP NOT NULL,
    detected_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (device_id, kind, read_at)
);

INSERT INTO counter_resets (device_id, kind, previous_value, previous_read_at, value, read_at, detected_at)
SELECT device_id, kind, previous_value, previous_read_at, value, read_at, strftime('%Y-%m-%d %H:%M:%S+00:00', 'now')
FROM (
    SELECT device_id, kind, value, read_at,
           lag(value) OVER w AS previous_value, lag(read_at) OVER w AS previous_read_at
    FROM (
        SELECT device_id, read_at, 'total' AS kind, total AS value FROM meter_reads WHERE NOT clock_ahead AND total IS NOT NULL
        UNION ALL
        SELECT device_id, read_at, 'black', black FROM meter_reads WHERE NOT clock_ahead AND black IS NOT NULL
        UNION ALL
        SELECT device_id, read_at, 'colour', colour FROM meter_reads WHERE NOT clock_ahead AND colour IS NOT NULL
    )
    WINDOW w AS (PARTITION BY device_id, kind ORDER BY read_at)
)
WHERE value < previous_value;
