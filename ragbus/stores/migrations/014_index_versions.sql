-- Index versions: a tenant's vector index rebuilt with another embedding model,
-- precision or chunking while queries keep using the active one.
--
-- A tenant without a tenant_vector_index row uses the deployment's index (the
-- collection or table every tenant shares, the configured model). Its first
-- rebuild records that one as a row (shared = true) and points at it; the new
-- version gets its own collection or table (<base>_ix<id>). The switch is one
-- update of tenant_vector_index.active_id.

CREATE TABLE IF NOT EXISTS vector_indexes (
    id bigserial PRIMARY KEY,
    tenant_id text NOT NULL,
    model text,        -- NULL: the deployment's RAGBUS_EMBED_MODEL
    precision text,    -- NULL: the deployment's RAGBUS_EMBED_PRECISION
    chunking text,     -- NULL: each document's own strategy
    shared boolean NOT NULL DEFAULT false,
    status text NOT NULL
        CHECK (status IN ('building', 'active', 'retired', 'aborted', 'failed', 'dropped')),
    error text,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    switched_at timestamptz,
    retired_at timestamptz,
    dropped_at timestamptz
);
CREATE INDEX IF NOT EXISTS vector_indexes_tenant ON vector_indexes (tenant_id, id);
-- What embed_svc's keeper still has to do, across tenants: builds to finish,
-- vectors to drop (retired, aborted, failed).
CREATE INDEX IF NOT EXISTS vector_indexes_pending ON vector_indexes (status)
    WHERE status IN ('building', 'retired', 'aborted', 'failed');

CREATE TABLE IF NOT EXISTS tenant_vector_index (
    tenant_id text PRIMARY KEY,
    active_id bigint NOT NULL REFERENCES vector_indexes (id),
    building_id bigint REFERENCES vector_indexes (id),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The documents replayed into a building version, at the version replayed, and
-- their progress in chunks (as documents.chunks_embedded for the active one).
CREATE TABLE IF NOT EXISTS index_documents (
    index_id bigint NOT NULL REFERENCES vector_indexes (id) ON DELETE CASCADE,
    tenant_id text NOT NULL,
    document_id uuid NOT NULL,
    version integer NOT NULL,
    chunks_total integer,
    chunks_embedded integer NOT NULL DEFAULT 0,
    done_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (index_id, document_id, version)
);

-- One row per embedded batch, so a redelivered batch is counted once.
CREATE TABLE IF NOT EXISTS index_batches (
    index_id bigint NOT NULL,
    document_id uuid NOT NULL,
    version integer NOT NULL,
    batch_index integer NOT NULL,
    chunk_count integer NOT NULL,
    PRIMARY KEY (index_id, document_id, version, batch_index),
    FOREIGN KEY (index_id, document_id, version)
        REFERENCES index_documents (index_id, document_id, version) ON DELETE CASCADE
);
