"""``/v1/admin/*`` (tenant admins) and ``/v1/usage`` (every caller): keys, users, quotas.

Everything here is scoped to the caller's tenant: an id from another tenant is a 404.
"""

import uuid
from typing import Any

from fastapi import APIRouter, Query, status

from gateway.auth.admin_views import (
    KeyRequest,
    QuotaRequest,
    UserRequest,
    key_json,
    principal_json,
)
from gateway.errors import ERRORS
from gateway.identity import AdminDep, IdentityDep
from gateway.state import StateDep

router = APIRouter(tags=["admin"], responses=ERRORS)


@router.post("/v1/admin/keys", status_code=status.HTTP_201_CREATED)
async def create_key(state: StateDep, admin: AdminDep, body: KeyRequest) -> dict[str, Any]:
    """A new API key; ``key`` is its only appearance, store it now."""
    key, plaintext = await state.require_sessions().create_key(
        admin, **body.model_dump(exclude_none=True)
    )
    return {**key_json(key), "key": plaintext}


@router.get("/v1/admin/keys")
async def list_keys(state: StateDep, admin: AdminDep) -> dict[str, Any]:
    """The tenant's keys, newest first, revoked ones included (never their secrets)."""
    keys = await state.require_sessions().keys.list(admin.tenant_id)
    return {"keys": [key_json(k) for k in keys]}


@router.delete("/v1/admin/keys/{key_id}")
async def revoke_key(state: StateDep, admin: AdminDep, key_id: uuid.UUID) -> dict[str, Any]:
    """Revoke a key at once (and the refresh tokens exchanged for it)."""
    return key_json(await state.require_sessions().revoke_key(admin, key_id))


@router.post("/v1/admin/users", status_code=status.HTTP_201_CREATED)
async def create_user(state: StateDep, admin: AdminDep, body: UserRequest) -> dict[str, Any]:
    """A user who signs in at ``POST /v1/auth/token`` with a password."""
    sessions = state.require_sessions()
    return principal_json(await sessions.create_user(admin, **body.model_dump()))


@router.get("/v1/admin/users")
async def list_principals(state: StateDep, admin: AdminDep) -> dict[str, Any]:
    """The tenant's users and service accounts."""
    principals = await state.require_sessions().principals.list(admin.tenant_id)
    return {"principals": [principal_json(p) for p in principals]}


@router.delete("/v1/admin/users/{principal_id}", status_code=status.HTTP_204_NO_CONTENT)
async def disable_principal(state: StateDep, admin: AdminDep, principal_id: uuid.UUID) -> None:
    """Disable a user or service account: its keys and tokens stop working."""
    await state.require_sessions().disable_principal(admin, principal_id)


@router.get("/v1/admin/audit")
async def audit_trail(
    state: StateDep, admin: AdminDep, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, Any]:
    """The tenant's newest security events: sign-ins, keys, users, deletes."""
    rows = await state.require_sessions().principals.audit_trail(admin.tenant_id, limit=limit)
    return {
        "events": [
            {**r, "principal_id": r["principal_id"] and str(r["principal_id"])} for r in rows
        ]
    }


@router.put("/v1/admin/quotas")
async def set_quotas(state: StateDep, admin: AdminDep, body: QuotaRequest) -> dict[str, Any]:
    """Change the tenant's limits; the others keep their values."""
    quotas = state.require_quotas()
    await quotas.set_limits(admin.tenant_id, body.model_dump(exclude_unset=True))
    return await quotas.usage(admin.tenant_id)


@router.get("/v1/usage")
async def usage(state: StateDep, identity: IdentityDep) -> dict[str, Any]:
    """Each of the tenant's limits with what is used now (``{"limit", "used"}``)."""
    return {"tenant": identity.tenant_id, **await state.require_quotas().usage(identity.tenant_id)}
