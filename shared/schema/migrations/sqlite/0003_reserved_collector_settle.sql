-- Placeholder: version 3 belongs to branch collector-settle (the
-- read_batches key). It only keeps the numbering whole so that 0004 can be
-- applied on this branch; delete this file when merging that branch's 0003
-- (two version-3 files fail TestMigrationsNumbered, so it cannot be missed).
SELECT 1;
