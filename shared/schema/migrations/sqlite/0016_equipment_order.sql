-- The SQLite twin of postgres/0016_equipment_order.sql: the devices of
-- My equipment in the list's order (location, none last, then serial).
CREATE INDEX devices_equipment_order ON devices (account_id, (location_id IS NULL), location_id, serial, id, contract_id, state)
    WHERE contract_id IS NOT NULL AND state IN ('active', 'pending_removal');
