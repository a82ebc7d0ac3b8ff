"""``GET /v1/nats``: how the caller's tenant reaches ragbus over NATS directly.

Any authenticated caller (every role) may ask; the answer names only its own
tenant's subjects. The logic is in :mod:`gateway.nats_clients`.
"""

from typing import Any

from fastapi import APIRouter

from gateway.auth.authenticate import AuthError
from gateway.errors import ERRORS
from gateway.identity import IdentityDep
from gateway.nats_clients import asyncapi_document, client_access
from gateway.state import GatewayState, StateDep

router = APIRouter(prefix="/v1/nats", tags=["nats"], responses=ERRORS)


def _servers(state: GatewayState) -> list[str]:
    if not state.nats_servers:
        raise AuthError(404, "nats_clients_disabled", "this deployment admits no NATS clients")
    return state.nats_servers


@router.get("")
async def nats_access(state: StateDep, identity: IdentityDep) -> dict[str, Any]:
    """Servers, connect options and the tenant's subjects (:func:`client_access`);
    404 ``nats_clients_disabled`` when the deployment has no auth callout."""
    return client_access(identity.tenant_id, str(identity.role), _servers(state))


@router.get("/asyncapi.json")
async def asyncapi(state: StateDep, identity: IdentityDep) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every event, with this deployment's NATS servers."""
    return asyncapi_document(_servers(state))
