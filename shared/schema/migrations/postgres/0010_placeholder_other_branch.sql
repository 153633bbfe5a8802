-- Placeholder for local tests only: 0010 belongs to another branch of issue 15.
-- DROP THIS FILE AT MERGE (the real 0010 replaces it).
SELECT 1;
