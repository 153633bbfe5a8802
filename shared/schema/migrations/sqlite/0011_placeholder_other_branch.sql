-- Placeholder for local tests only: 0011 belongs to another branch of issue 15.
-- DROP THIS FILE AT MERGE (the real 0011 replaces it).
SELECT 1;
