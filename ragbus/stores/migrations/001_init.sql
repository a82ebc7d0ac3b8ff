-- Documents, their per-version embedding progress, and queries.
-- Every table is keyed by tenant first: every statement filters by tenant_id.

CREATE TABLE documents (
    tenant_id       text        NOT NULL,
    id              uuid        NOT NULL,
    filename        text        NOT NULL,
    content_type    text,
    sha256          text,
    size_bytes      bigint      CHECK (size_bytes >= 0),
    blob_key        text,
    status          text        NOT NULL DEFAULT 'uploaded'
        CHECK (status IN ('uploaded', 'parsing', 'embedding', 'indexed', 'failed', 'deleted')),
    error           text,
    error_code      text,
    version         integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    chunks_total    integer     NOT NULL DEFAULT 0 CHECK (chunks_total >= 0),
    chunks_embedded integer     NOT NULL DEFAULT 0 CHECK (chunks_embedded >= 0),
    title           text,
    parser          text,
    page_count      integer,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    indexed_at      timestamptz,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX documents_tenant_sha256 ON documents (tenant_id, sha256);
CREATE INDEX documents_tenant_created ON documents (tenant_id, created_at DESC);

-- One row per embedded chunks.ready batch: a redelivered batch hits the primary
-- key and is not counted twice.
CREATE TABLE document_batches (
    tenant_id   text        NOT NULL,
    document_id uuid        NOT NULL,
    version     integer     NOT NULL,
    batch_index integer     NOT NULL CHECK (batch_index >= 0),
    chunk_count integer     NOT NULL CHECK (chunk_count >= 0),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, document_id, version, batch_index),
    FOREIGN KEY (tenant_id, document_id) REFERENCES documents (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE queries (
    tenant_id    text        NOT NULL,
    id           uuid        NOT NULL,
    user_id      text,
    question     text        NOT NULL,
    top_k        integer     NOT NULL CHECK (top_k >= 1),
    status       text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'answered', 'failed')),
    answer       text,
    citations    jsonb       NOT NULL DEFAULT '[]'::jsonb,
    timings      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    model        text,
    found        boolean,
    error_code   text,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX queries_tenant_created ON queries (tenant_id, created_at DESC);
