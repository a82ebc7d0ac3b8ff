"""``/v1/settings``: the tenant's defaults, for now the chunking strategy of uploads."""

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict

from gateway.identity import IdentityDep
from gateway.state import GatewayState, StateDep
from gateway.tenant_settings_store import TenantSettingsRepository
from schemas import ChunkingStrategy

router = APIRouter(prefix="/v1/settings", tags=["settings"])

DEFAULT_CHUNKING = ChunkingStrategy.TOKEN_WINDOW
"""The deployment default: used when neither the upload nor the tenant names one."""


class TenantSettings(BaseModel):
    """Body of ``PUT /v1/settings`` and reply of both routes.

    Attributes:
        chunking: Strategy of uploads that name none (``token_window``,
            ``structure`` or ``sentence``).
    """

    model_config = ConfigDict(extra="forbid")

    chunking: ChunkingStrategy


def _repository(state: GatewayState) -> TenantSettingsRepository:
    if state.tenants is None:
        raise HTTPException(503, "tenant settings are not available")
    return state.tenants


@router.get("")
async def get_settings(state: StateDep, identity: IdentityDep) -> TenantSettings:
    """The tenant's settings; the deployment default where it set nothing."""
    stored = await _repository(state).get_chunking(identity.tenant_id)
    return TenantSettings(chunking=ChunkingStrategy(stored) if stored else DEFAULT_CHUNKING)


@router.put("")
async def put_settings(
    state: StateDep, identity: IdentityDep, body: TenantSettings
) -> TenantSettings:
    """Set the tenant's default chunking strategy (422 for an unknown one).

    Applies to uploads from now on; documents already indexed keep their chunks
    until they are reprocessed.
    """
    await _repository(state).set_chunking(identity.tenant_id, body.chunking)
    return body
