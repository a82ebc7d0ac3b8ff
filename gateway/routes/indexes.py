"""``/v1/admin/index``: a tenant admin's index versions, rebuilds and their progress.

The logic is in :mod:`gateway.index_admin`; ``ragbus reindex`` calls these routes.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status

from gateway.errors import ERRORS
from gateway.identity import AdminDep
from gateway.index_admin import IndexAdmin, RebuildRequest
from ragbus.stores.index_rebuilds import IndexRebuilds
from ragbus.stores.vector_indexes import VectorIndexes

router = APIRouter(prefix="/v1/admin/index", tags=["admin"], responses=ERRORS)


async def index_admin(request: Request) -> IndexAdmin:
    """The index versions on the gateway's pool and publisher."""
    resources = request.app.state.resources
    pool = await resources.pool()
    state = request.app.state.gateway
    models = state.settings.index_models
    return IndexAdmin(
        VectorIndexes(pool), IndexRebuilds(pool), state.publisher, resources.infra, models
    )


IndexAdminDep = Annotated[IndexAdmin, Depends(index_admin)]


@router.get("")
async def index_versions(admin: AdminDep, indexes: IndexAdminDep) -> dict[str, Any]:
    """The active index version, the one being built (with ``progress``: documents
    indexed in it out of the tenant's searchable ones) and the newest 20."""
    return await indexes.status(admin.tenant_id)


@router.post("/rebuild", status_code=status.HTTP_202_ACCEPTED)
async def rebuild_index(
    admin: AdminDep, indexes: IndexAdminDep, body: RebuildRequest
) -> dict[str, Any]:
    """Build a new index version (another model, precision or chunking) from the
    tenant's documents while queries keep using the active one; it is switched in
    when every document is indexed in it. 400 for a model the deployment does not
    offer (``RAGBUS_GATEWAY_INDEX_MODELS``); 409 when one is being built already, or
    when some document cannot be replayed (sent as inline text over NATS)."""
    return await indexes.start(admin, body)


@router.post("/abort")
async def abort_rebuild(admin: AdminDep, indexes: IndexAdminDep) -> dict[str, Any]:
    """Stop the rebuild: the active version stays, the new one's vectors are dropped.
    409 when none is running (or it has just been switched in)."""
    return await indexes.abort(admin.tenant_id)
