"""A tenant admin's index versions: see them, rebuild with another model, precision or
chunking, abort a rebuild.

Starting a rebuild records the new version (``building``) next to the active one
and publishes ``index.rebuild.<tenant>``; ingest_svc replays the tenant's documents
into it and embed_svc switches it in when every document is there (see
docs/retrieval.md, "Changing the model or chunking"). Should that publish fail,
embed_svc's keeper sends it again within seconds, so the answer stays ``202``.
Aborting marks the build ``aborted``: the active version never changed, and the
new one's vectors are dropped.
"""

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth.authenticate import Identity
from ragbus.bus import Publisher
from ragbus.settings import InfraSettings
from ragbus.stores.index_rebuilds import IndexRebuilds
from ragbus.stores.vector_indexes import IndexConflictError, VectorIndex, VectorIndexes
from schemas import ChunkingStrategy, EmbeddingPrecision, IndexState, RebuildIndex
from schemas import subjects as s

log = logging.getLogger(__name__)


class RebuildRequest(BaseModel):
    """What the new index version changes; a field left out keeps the active one's.

    Attributes:
        model: Embedding model (one the deployment can load: resolved offline or
            downloadable); default the active version's.
        precision: ``fp32`` or ``int8``; default the active version's.
        chunking: Cut every document this way; default each document's own.
    """

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, min_length=1, max_length=256)
    precision: EmbeddingPrecision | None = None
    chunking: ChunkingStrategy | None = None


class IndexAdmin:
    """The routes' logic, on the caller's tenant only.

    Args:
        indexes: The index versions.
        rebuilds: Their builds' progress.
        publisher: Publishes ``index.rebuild``.
        infra: The deployment's model and precision (shown for versions that use them).
        models: Other models a rebuild may choose (``RAGBUS_GATEWAY_INDEX_MODELS``).
    """

    def __init__(
        self,
        indexes: VectorIndexes,
        rebuilds: IndexRebuilds,
        publisher: Publisher,
        infra: InfraSettings,
        models: Sequence[str] = (),
    ) -> None:
        self._indexes = indexes
        self._rebuilds = rebuilds
        self._publisher = publisher
        self._infra = infra
        self._models = {infra.embed_model, *models}

    async def status(self, tenant_id: str) -> dict[str, Any]:
        """``{"active", "building", "versions"}``: the active version, the one being
        built (with ``progress`` in documents) or null, and the newest 20."""
        active = await self._indexes.active(tenant_id)
        versions = await self._indexes.recent(tenant_id)
        building = next((v for v in versions if v.status == IndexState.BUILDING), None)
        return {
            "active": await self.view(active),
            "building": None if building is None else await self.view(building),
            "versions": [await self.view(v) for v in versions],
        }

    async def start(self, identity: Identity, request: RebuildRequest) -> dict[str, Any]:
        """Start a rebuild of the caller's tenant.

        Raises:
            HTTPException: 400 for a model the deployment does not offer (a tenant
                admin must not make the services download or load any model); 409
                when one is running or a document cannot be replayed.
        """
        if request.model is not None and request.model not in self._models:
            offered = ", ".join(sorted(self._models))
            raise HTTPException(400, f"model {request.model!r} is not offered here: {offered}")
        active = await self._indexes.active(identity.tenant_id)
        try:
            index = await self._indexes.start(
                identity.tenant_id,
                model=request.model or active.model,
                precision=request.precision or active.precision,
                chunking=request.chunking,
                created_by=identity.principal_id,
            )
        except IndexConflictError as exc:
            raise HTTPException(409, str(exc)) from exc
        assert index.id is not None
        command = RebuildIndex(
            tenant_id=index.tenant_id, index_id=index.id, principal_id=identity.principal_id
        )
        try:
            await self._publisher.publish(command, s.INDEX_REBUILD, msg_id=f"ix{index.id}:start")
        except Exception:  # embed_svc's keeper asks for the replay within seconds
            log.warning("index.rebuild not published", exc_info=True)
        return {"index": await self.view(index)}

    async def abort(self, tenant_id: str) -> dict[str, Any]:
        """Abort the tenant's build; the active version is untouched.

        Raises:
            HTTPException: 409 when no build is running (it may have just switched).
        """
        aborted = await self._indexes.abort(tenant_id)
        if aborted is None:
            raise HTTPException(409, "no index rebuild is running")
        return {"index": await self.view(aborted)}

    async def view(self, index: VectorIndex) -> dict[str, Any]:
        """One version as JSON; a building one with ``progress`` (documents)."""
        progress = None
        if index.status == IndexState.BUILDING:
            progress = (await self._rebuilds.progress(index)).model_dump()
        return {
            "id": index.id,
            "status": str(index.status),
            "model": index.model or self._infra.embed_model,
            "precision": index.precision or self._infra.embed_precision,
            "chunking": index.chunking,
            "progress": progress,
            "error": index.error,
            **{
                key: None if value is None else value.isoformat()
                for key, value in (
                    ("created_at", index.created_at),
                    ("switched_at", index.switched_at),
                    ("retired_at", index.retired_at),
                    ("dropped_at", index.dropped_at),
                )
            },
        }
