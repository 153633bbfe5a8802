-- The SQLite twin of postgres/0010_location_codes.sql: same column and
-- partial unique index.
ALTER TABLE shipping_locations ADD COLUMN code TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX shipping_locations_account_code ON shipping_locations (account_id, code) WHERE code <> '';
