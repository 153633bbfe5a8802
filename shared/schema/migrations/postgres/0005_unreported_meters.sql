-- The billing meters a read says its device does not report
-- (wire.DeviceRead.Unreported: black, colour), as a JSON array of kinds;
-- NULL for a read that says nothing (older agents, or every meter there).
-- The portal shows "not reported by this model" for them.
ALTER TABLE meter_reads ADD COLUMN unreported json;
