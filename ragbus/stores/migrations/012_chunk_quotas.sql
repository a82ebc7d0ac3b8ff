-- Per-tenant limits on how many chunks one document may become (ingest_svc fails it
-- with too_many_chunks); NULL: the default (RAGBUS_QUOTA_MAX_CHUNKS_PER_*).

ALTER TABLE tenant_quotas ADD COLUMN IF NOT EXISTS max_chunks_per_document integer
    CHECK (max_chunks_per_document >= 1);
ALTER TABLE tenant_quotas ADD COLUMN IF NOT EXISTS max_chunks_per_mib integer
    CHECK (max_chunks_per_mib >= 1);
