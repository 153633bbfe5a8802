-- Placeholder for local tests only: 0008 belongs to the collector-ingest branch.
-- DROP THIS FILE AT MERGE (the real 0008 replaces it).
SELECT 1;
