-- Who may call ragbus: tenants, their principals (users and service accounts),
-- API keys, the gateway's token signing keys, refresh tokens, quotas and audit.
-- Written by the gateway only (gateway/auth/); see docs/security.md.

CREATE TABLE tenants (
    id         text        PRIMARY KEY,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A user signs in with a password (argon2id hash); a service account only has keys.
CREATE TABLE principals (
    id            uuid        PRIMARY KEY,
    tenant_id     text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind          text        NOT NULL CHECK (kind IN ('user', 'service_account')),
    name          text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('admin', 'member', 'reader')),
    password_hash text,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

-- A key is shown once; only the SHA-256 of its secret part is kept. `prefix` is
-- the visible part that names the key in lists and logs.
CREATE TABLE api_keys (
    id                  uuid        PRIMARY KEY,
    prefix              text        NOT NULL UNIQUE,
    secret_sha256       bytea       NOT NULL,
    tenant_id           text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    principal_id        uuid        NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    role                text        NOT NULL CHECK (role IN ('admin', 'member', 'reader')),
    name                text        NOT NULL,
    requests_per_minute integer     CHECK (requests_per_minute >= 1),
    created_at          timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz,
    revoked_at          timestamptz,
    last_used_at        timestamptz
);

CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at DESC);

-- The gateway's own signing keys (EdDSA). The newest unretired key signs; every key
-- not yet past `retired_at` verifies, so keys rotate without downtime.
CREATE TABLE signing_keys (
    kid         text        PRIMARY KEY,
    algorithm   text        NOT NULL,
    private_pem text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);

-- Refresh tokens are opaque; only their SHA-256 is kept. Each refresh uses one up
-- and issues the next of the same family; presenting a used one revokes the family.
CREATE TABLE refresh_tokens (
    id            uuid        PRIMARY KEY,
    family_id     uuid        NOT NULL,
    token_sha256  bytea       NOT NULL,
    tenant_id     text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    principal_id  uuid        NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    api_key_id    uuid        REFERENCES api_keys (id) ON DELETE CASCADE,
    role          text        NOT NULL CHECK (role IN ('admin', 'member', 'reader')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz,
    revoked_at    timestamptz
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Per-tenant limits; a missing row or a null column means the gateway's default.
CREATE TABLE tenant_quotas (
    tenant_id             text    PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    requests_per_minute   integer CHECK (requests_per_minute >= 1),
    concurrent_queries    integer CHECK (concurrent_queries >= 1),
    upload_bytes_per_day  bigint  CHECK (upload_bytes_per_day >= 1),
    max_documents         integer CHECK (max_documents >= 1),
    max_stored_bytes      bigint  CHECK (max_stored_bytes >= 1)
);

-- Fixed-window counters of the `limits` library, shared by every gateway replica.
CREATE TABLE rate_limit_counters (
    key        text        PRIMARY KEY,
    count      bigint      NOT NULL,
    expires_at timestamptz NOT NULL
);

-- One row per query in flight; a slot whose lease ran out (a replica died) is free.
CREATE TABLE query_slots (
    tenant_id  text        NOT NULL,
    id         uuid        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE audit_log (
    id           bigserial   PRIMARY KEY,
    tenant_id    text        NOT NULL,
    principal_id uuid,
    action       text        NOT NULL,
    target       text,
    detail       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    at           timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at DESC);

-- Who uploaded a document: a member may delete or reprocess only their own.
ALTER TABLE documents ADD COLUMN uploaded_by text;
