"""``/v1/settings``: the tenant's defaults, for now the chunking strategy of uploads.

The logic is in :mod:`gateway.tenant_settings`.
"""

from fastapi import APIRouter

from gateway.errors import ERRORS
from gateway.identity import AdminDep, IdentityDep
from gateway.state import StateDep
from gateway.tenant_settings import TenantSettings, read_settings, write_settings

router = APIRouter(prefix="/v1/settings", tags=["settings"], responses=ERRORS)


@router.get("")
async def get_settings(state: StateDep, identity: IdentityDep) -> TenantSettings:
    """The tenant's settings; the deployment default where it set nothing."""
    return await read_settings(state, identity.tenant_id)


@router.put("")
async def put_settings(state: StateDep, identity: AdminDep, body: TenantSettings) -> TenantSettings:
    """Set the tenant's default chunking strategy (422 for an unknown one).

    Applies to uploads from now on; documents already indexed keep their chunks
    until they are reprocessed.
    """
    await write_settings(state, identity.tenant_id, body)
    return body
