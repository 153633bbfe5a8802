-- Placeholder for migration 0012, written on another branch; dropped when
-- the branches merge. It keeps the numbers contiguous meanwhile.
SELECT 1;
