"""``/v1/nats``: how a tenant reaches ragbus over NATS directly; NATS credentials.

``GET /v1/nats`` and its AsyncAPI document: any authenticated caller (every role);
the answer names only its own tenant's subjects. ``POST /v1/admin/nats-credentials``:
tenant admins only; it makes an API key of the role asked for (a NATS client's
credential, :mod:`gateway.nats_callout`) and says how to connect with it. The logic
is in :mod:`gateway.nats_clients`.
"""

from typing import Any

from fastapi import APIRouter, status

from gateway.auth.admin_views import KeyRequest, key_json
from gateway.auth.authenticate import AuthError
from gateway.errors import ERRORS
from gateway.identity import AdminDep, IdentityDep
from gateway.nats_clients import asyncapi_document, client_access
from gateway.state import GatewayState, StateDep

router = APIRouter(tags=["nats"], responses=ERRORS)


def _servers(state: GatewayState) -> list[str]:
    if not state.nats_servers:
        raise AuthError(404, "nats_clients_disabled", "this deployment admits no NATS clients")
    return state.nats_servers


@router.get("/v1/nats")
async def nats_access(state: StateDep, identity: IdentityDep) -> dict[str, Any]:
    """Servers, connect options and the tenant's subjects (:func:`client_access`);
    404 ``nats_clients_disabled`` when the deployment has no auth callout."""
    return client_access(identity.tenant_id, str(identity.role), _servers(state))


@router.get("/v1/nats/asyncapi.json")
async def asyncapi(state: StateDep, identity: IdentityDep) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every event, with this deployment's NATS servers."""
    return asyncapi_document(_servers(state))


@router.post("/v1/admin/nats-credentials", status_code=status.HTTP_201_CREATED)
async def nats_credentials(state: StateDep, admin: AdminDep, body: KeyRequest) -> dict[str, Any]:
    """A new API key for a NATS client of the admin's tenant with ``role``, and how to
    connect with it: ``{"key", "api_key": {...}, "servers", "inbox_prefix",
    "subjects", "permissions", ...}``. The key is shown once; revoke it like any key."""
    servers = _servers(state)
    key, plaintext = await state.require_sessions().create_key(
        admin, **body.model_dump(exclude_none=True)
    )
    access = client_access(admin.tenant_id, str(key.role), servers)
    return {"key": plaintext, "api_key": key_json(key), **access}
