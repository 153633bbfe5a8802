-- My equipment (issue 15) lists an account's devices under contract by
-- location (none last), then serial, a page at a time. This index holds
-- exactly those devices in exactly that order, so a page is read from it
-- without sorting the account's devices, and their count is an index-only
-- count. The expression (location_id IS NULL) puts the devices without a
-- location last in both databases (their NULLs sort differently);
-- contract_id and state, which the WHERE already fixes, are columns too so
-- that SQLite, which does not infer them from the WHERE, reads the index
-- alone.
CREATE INDEX devices_equipment_order ON devices (account_id, (location_id IS NULL), location_id, serial, id, contract_id, state)
    WHERE contract_id IS NOT NULL AND state IN ('active', 'pending_removal');
