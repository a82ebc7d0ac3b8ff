-- Per-tenant settings: the chunking strategy used when an upload names none.
-- A tenant without a row uses the deployment default (token_window).

CREATE TABLE tenant_settings (
    tenant_id  text        PRIMARY KEY,
    chunking   text        NOT NULL
        CHECK (chunking IN ('token_window', 'structure', 'sentence')),
    updated_at timestamptz NOT NULL DEFAULT now()
);
