"""A tenant's defaults as the API shows them; for now the chunking strategy of uploads.

The logic of ``/v1/settings`` (``gateway/routes/tenant_settings.py``); the rows are
:mod:`gateway.tenant_settings_store`.
"""

from fastapi import HTTPException
from pydantic import ConfigDict

from gateway.request_checks import RequestBody
from gateway.state import GatewayState
from gateway.tenant_settings_store import TenantSettingsRepository
from schemas import ChunkingStrategy

DEFAULT_CHUNKING = ChunkingStrategy.TOKEN_WINDOW
"""The deployment default: used when neither the upload nor the tenant names one."""


class TenantSettings(RequestBody):
    """Body of ``PUT /v1/settings`` and reply of both routes.

    Attributes:
        chunking: Strategy of uploads that name none (``token_window``,
            ``structure`` or ``sentence``).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    chunking: ChunkingStrategy


def _repository(state: GatewayState) -> TenantSettingsRepository:
    if state.tenants is None:
        raise HTTPException(503, "tenant settings are not available")
    return state.tenants


async def read_settings(state: GatewayState, tenant_id: str) -> TenantSettings:
    """The tenant's settings; the deployment default where it set nothing.

    Raises:
        HTTPException: 503 when this gateway has no tenant settings store.
    """
    stored = await _repository(state).get_chunking(tenant_id)
    return TenantSettings(chunking=ChunkingStrategy(stored) if stored else DEFAULT_CHUNKING)


async def write_settings(state: GatewayState, tenant_id: str, settings: TenantSettings) -> None:
    """Store the tenant's settings (replacing what it set before).

    Raises:
        HTTPException: 503 when this gateway has no tenant settings store.
    """
    await _repository(state).set_chunking(tenant_id, settings.chunking)
