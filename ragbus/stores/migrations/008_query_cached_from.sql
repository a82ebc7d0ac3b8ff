-- A query answered from the answer cache names the query whose answer it served,
-- so the history (GET /v1/queries) can tell cached answers from fresh ones.
ALTER TABLE queries ADD COLUMN cached_from uuid;
