-- The SQLite twin of postgres/0005_unreported_meters.sql.
ALTER TABLE meter_reads ADD COLUMN unreported TEXT;
