"""Settings of the gateway's authentication (environment prefix ``RAGBUS_AUTH_``)."""

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ragbus.stores.chunk_quotas import DEFAULT_MAX_CHUNKS_PER_DOCUMENT, DEFAULT_MAX_CHUNKS_PER_MIB


class AuthSettings(BaseSettings):
    """How callers prove who they are; see docs/security.md.

    Attributes:
        mode: ``keys`` (the default: API keys and JWTs, ragbus's own or an OpenID
            Connect provider's) or ``trusted-headers`` (tenant, user and role from
            ``X-Tenant-ID``, ``X-User-ID`` and ``X-Ragbus-Role``, only for a gateway
            that nothing but an authenticating proxy can reach; logged as a warning).
        issuer: ``iss`` of the access tokens the gateway signs.
        audience: ``aud`` of the access tokens the gateway signs.
        access_ttl_s: Lifetime of an access token, in seconds (15 min).
        refresh_ttl_s: Lifetime of a refresh token, in seconds (30 days); each use
            replaces it.
        leeway_s: Clock skew tolerated on ``exp``, ``iat`` and ``nbf``, in seconds.
        oidc_jwks_url: JWKS of an OpenID Connect provider whose tokens are accepted.
        oidc_issuer: That provider's ``iss``.
        oidc_audience: The ``aud`` its tokens must carry for ragbus.
        oidc_algorithms: Algorithms allowed for its tokens (asymmetric only).
        oidc_tenant_claim: The claim naming the caller's tenant.
        oidc_role_claim: The claim naming the caller's role.
        metrics_token: Bearer token Prometheus sends to ``/metrics``; without it,
            only a tenant admin's credential reads ``/metrics``.
        default_role: Role of a ``trusted-headers`` request without ``X-Ragbus-Role``.
    """

    model_config = SettingsConfigDict(env_prefix="RAGBUS_AUTH_", extra="ignore")

    mode: Literal["keys", "trusted-headers"] = "keys"
    issuer: str = "ragbus"
    audience: str = "ragbus"
    access_ttl_s: int = Field(900, ge=60, le=86_400)
    refresh_ttl_s: int = Field(30 * 86_400, ge=300, le=365 * 86_400)
    leeway_s: int = Field(30, ge=0, le=300)
    oidc_jwks_url: str | None = None
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["RS256", "ES256"]
    )
    oidc_tenant_claim: str = "tenant"
    oidc_role_claim: str = "role"
    metrics_token: SecretStr | None = None
    default_role: Literal["admin", "member", "reader"] = "member"

    @field_validator("oidc_algorithms", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        """Accept ``"RS256,ES256"`` from the environment as well as a list."""
        if isinstance(value, str):
            return [a.strip() for a in value.split(",") if a.strip()]
        return value


class QuotaSettings(BaseSettings):
    """Default limits of every tenant (environment prefix ``RAGBUS_QUOTA_``); a tenant
    admin's ``PUT /v1/admin/quotas`` overrides them per tenant.

    Attributes:
        requests_per_minute: HTTP requests per minute per tenant.
        concurrent_queries: Queries (``/v1/query``, chat completions) in flight at once.
        upload_bytes_per_day: Upload bytes per one-day window.
        max_documents: Documents stored at once (deleted ones not counted).
        max_stored_bytes: Bytes of the documents stored.
        max_chunks_per_document: Chunks of one document version; ingest_svc reads the
            same variable (:class:`ragbus.stores.chunk_quotas.ChunkQuotaSettings`).
        max_chunks_per_mib: Chunks per MiB uploaded, likewise.
        enabled: ``False`` turns every limit off (a single-user laptop, benchmarks).
    """

    model_config = SettingsConfigDict(env_prefix="RAGBUS_QUOTA_", extra="ignore")

    requests_per_minute: int = Field(600, ge=1)
    concurrent_queries: int = Field(8, ge=1)
    upload_bytes_per_day: int = Field(2 * 1024**3, ge=1)
    max_documents: int = Field(100_000, ge=1)
    max_stored_bytes: int = Field(20 * 1024**3, ge=1)
    max_chunks_per_document: int = Field(DEFAULT_MAX_CHUNKS_PER_DOCUMENT, ge=1)
    max_chunks_per_mib: int = Field(DEFAULT_MAX_CHUNKS_PER_MIB, ge=1)
    enabled: bool = True
