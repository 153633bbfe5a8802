-- Placeholder for local tests only: 0010 belongs to a branch developed in parallel.
-- DROP THIS FILE AT MERGE (the real 0010 replaces it).
SELECT 1;
