-- Document versions: a client key that maps new content to a new version of the
-- same document, and the one version retrieval may return.

ALTER TABLE documents ADD COLUMN external_id text;
ALTER TABLE documents ADD COLUMN searchable_version integer CHECK (searchable_version >= 1);

-- One live document per client key; a deleted document frees its key.
CREATE UNIQUE INDEX documents_tenant_external_id ON documents (tenant_id, external_id)
    WHERE external_id IS NOT NULL AND status <> 'deleted';

-- Chunks are returned only at their document's searchable_version (null: nothing
-- searchable yet). Rows indexed before this migration are searchable as they are.
UPDATE documents SET searchable_version = version WHERE status = 'indexed';
