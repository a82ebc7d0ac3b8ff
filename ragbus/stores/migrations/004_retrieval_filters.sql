-- Retrieval filters on upload metadata: `metadata @> '{"key": value}'` per tenant
-- uses this GIN index (jsonb_path_ops supports containment only, and is smaller).
-- Upload-time ranges use documents_tenant_created from 001.

CREATE INDEX IF NOT EXISTS documents_metadata_path ON documents USING gin (metadata jsonb_path_ops);
