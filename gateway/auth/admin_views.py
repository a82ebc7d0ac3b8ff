"""The JSON shapes of keys, principals and quotas in the admin routes (no secrets)."""

from typing import Any

from pydantic import Field

from gateway.auth.key_store import ApiKey
from gateway.auth.principal_store import Principal
from gateway.auth.roles import Role
from gateway.request_checks import RequestBody


class KeyRequest(RequestBody):
    """``POST /v1/admin/keys``: a key named ``name`` with ``role``, for ``principal``
    (an existing user or service account; a new service account named ``name`` when
    omitted), expiring after ``expires_in_days`` (never when omitted), optionally
    limited to ``requests_per_minute`` (below the tenant's limit)."""

    name: str = Field(min_length=1, max_length=128)
    role: Role = Role.MEMBER
    principal: str | None = Field(None, min_length=1, max_length=128)
    expires_in_days: int | None = Field(None, ge=1, le=3650)
    requests_per_minute: int | None = Field(None, ge=1, le=1_000_000)


class UserRequest(RequestBody):
    """``POST /v1/admin/users``: a user who signs in with ``name`` and ``password``."""

    name: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=12, max_length=1024)
    role: Role = Role.MEMBER


class QuotaRequest(RequestBody):
    """``PUT /v1/admin/quotas``: the limits to change (``null``: back to the default)."""

    requests_per_minute: int | None = Field(None, ge=1, le=10_000_000)
    concurrent_queries: int | None = Field(None, ge=1, le=10_000)
    upload_bytes_per_day: int | None = Field(None, ge=1, le=2**50)
    max_documents: int | None = Field(None, ge=1, le=2**31 - 1)
    max_stored_bytes: int | None = Field(None, ge=1, le=2**60)
    max_chunks_per_document: int | None = Field(None, ge=1, le=2**31 - 1)
    max_chunks_per_mib: int | None = Field(None, ge=1, le=2**31 - 1)


def key_json(key: ApiKey) -> dict[str, Any]:
    """A key as listed: everything but its secret."""
    return {
        "id": str(key.id),
        "prefix": f"rbk_{key.prefix}",
        "name": key.name,
        "role": str(key.role),
        "principal_id": str(key.principal_id),
        "requests_per_minute": key.requests_per_minute,
        "created_at": key.created_at.isoformat(),
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
    }


def principal_json(principal: Principal) -> dict[str, Any]:
    """A user or service account as listed (never its password hash)."""
    return {
        "id": str(principal.id),
        "kind": principal.kind,
        "name": principal.name,
        "role": str(principal.role),
        "disabled": principal.disabled,
        "created_at": principal.created_at.isoformat(),
    }
