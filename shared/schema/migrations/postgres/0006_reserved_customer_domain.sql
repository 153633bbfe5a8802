-- PLACEHOLDER, not to merge: migration 0006 (customer domain) is written on
-- another branch; this empty step only keeps the numbering contiguous for
-- local tests of 0007. Drop it at merge.
SELECT 1;
