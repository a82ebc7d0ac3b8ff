-- The answer cache: a tenant's index version, bumped by every change to what its
-- queries can find, and finished answers keyed by question and retrieval options.

-- Bumped in the same statement that makes a document version searchable
-- (documents.mark_indexed) or deletes a document (documents.mark_deleted), so an
-- answer cached before the change can never be served after it.
CREATE TABLE tenant_index_versions (
    tenant_id  text        PRIMARY KEY,
    version    bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One answer per (tenant, key); `key` is the sha256 of the normalised question and
-- retrieval options (gateway/answer_cache.py). A row is served only while its
-- `index_version` is the tenant's current one and it is younger than the TTL.
CREATE TABLE answer_cache (
    tenant_id     text        NOT NULL,
    key           text        NOT NULL,
    index_version bigint      NOT NULL,
    query_id      uuid        NOT NULL,   -- the query whose answer this is
    answer        jsonb       NOT NULL,   -- schemas.AnswerReady as JSON
    hits          integer     NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

CREATE INDEX answer_cache_created ON answer_cache (created_at);
