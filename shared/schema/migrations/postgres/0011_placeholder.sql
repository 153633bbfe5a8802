-- Placeholder for migration 0011, written on another branch; dropped when
-- the branches merge. It keeps the numbers contiguous meanwhile.
SELECT 1;
