-- The supplier's key of a shipping location (issue 14): the CSV import of
-- locations finds a location by (account, code), so that importing the
-- same file again updates the location instead of adding one. '' is a
-- location without a code (created online or before this step); a code
-- names one location of its account.
ALTER TABLE shipping_locations ADD COLUMN code text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX shipping_locations_account_code ON shipping_locations (account_id, code) WHERE code <> '';
