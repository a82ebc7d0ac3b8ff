"""Which index version a service searches or writes for a tenant, with its model and store.

Services see the :class:`IndexTargets` port: retrieve_svc reads the tenant's active
version once per query (so every search of one query uses one version), ingest_svc
chunks a document with its version's tokenizer, and embed_svc writes a batch to the
version it is for. :class:`IndexVersions` reads the versions from Postgres
(:mod:`ragbus.stores.vector_indexes`) and opens their models and stores through
:class:`~ragbus.resources.Resources`; :class:`OneIndex` is every tenant on one store
and model (unit tests and tools without Postgres).
"""

from dataclasses import dataclass
from typing import Protocol

from ragbus.embedding import Embedder
from ragbus.resources import Resources
from ragbus.stores.vector_indexes import VectorIndex, VectorIndexes, deployment_index
from ragbus.stores.vectors.base import VectorStore


@dataclass(frozen=True, slots=True)
class IndexTarget:
    """An index version with the model that embeds for it and the store that holds it."""

    index: VectorIndex
    embedder: Embedder
    store: VectorStore


class IndexTargets(Protocol):
    """Index versions of tenants, resolved to their models and stores."""

    async def active_index(self, tenant_id: str, *, wait_for_switch: bool = False) -> VectorIndex:
        """The tenant's active version (see ``VectorIndexes.active``)."""
        ...

    async def embedder(self, index: VectorIndex, *, tokens_only: bool = False) -> Embedder:
        """The version's model (``tokens_only``: any precision of it, for its tokenizer)."""
        ...

    async def target(self, index: VectorIndex) -> IndexTarget:
        """The version with its model and opened store."""
        ...

    async def active(self, tenant_id: str, *, wait_for_switch: bool = False) -> IndexTarget:
        """The tenant's active version with its model and store."""
        ...

    async def live(self, tenant_id: str) -> list[IndexTarget]:
        """The active version and the one being built, if any."""
        ...

    async def drop(self, index: VectorIndex) -> None:
        """Delete a version's vectors: the tenant's points of a shared one, else its
        whole collection or table."""
        ...


class IndexVersions:
    """:class:`IndexTargets` from Postgres, with models and stores opened once per process.

    Args:
        resources: Opens each version's model and store.
        indexes: The versions and each tenant's pointer.
    """

    def __init__(self, resources: Resources, indexes: VectorIndexes) -> None:
        self._resources = resources
        self.indexes = indexes

    async def active_index(self, tenant_id: str, *, wait_for_switch: bool = False) -> VectorIndex:
        """See :meth:`IndexTargets.active_index`."""
        return await self.indexes.active(tenant_id, wait_for_switch=wait_for_switch)

    async def embedder(self, index: VectorIndex, *, tokens_only: bool = False) -> Embedder:
        """See :meth:`IndexTargets.embedder`."""
        return await self._resources.index_embedder(index, tokens_only=tokens_only)

    async def target(self, index: VectorIndex) -> IndexTarget:
        """See :meth:`IndexTargets.target`."""
        embedder = await self._resources.index_embedder(index)
        return IndexTarget(index, embedder, await self._resources.index_store(index))

    async def active(self, tenant_id: str, *, wait_for_switch: bool = False) -> IndexTarget:
        """See :meth:`IndexTargets.active`."""
        return await self.target(
            await self.active_index(tenant_id, wait_for_switch=wait_for_switch)
        )

    async def live(self, tenant_id: str) -> list[IndexTarget]:
        """See :meth:`IndexTargets.live`."""
        return [await self.target(index) for index in await self.indexes.live(tenant_id)]

    async def drop(self, index: VectorIndex) -> None:
        """See :meth:`IndexTargets.drop`."""
        if index.shared or index.id is None:
            shared = await self._resources.vector_store()
            await shared.delete_tenant(tenant_id=index.tenant_id)
            return
        store = await self._resources.detach_index_store(index)
        try:
            await store.drop()
        finally:
            await store.close()


class OneIndex:
    """:class:`IndexTargets` where every tenant has one index: ``store`` and ``embedder``."""

    def __init__(self, store: VectorStore, embedder: Embedder) -> None:
        self._store = store
        self._embedder = embedder

    async def active_index(self, tenant_id: str, *, wait_for_switch: bool = False) -> VectorIndex:
        """The deployment's index."""
        return deployment_index(tenant_id)

    async def embedder(self, index: VectorIndex, *, tokens_only: bool = False) -> Embedder:
        """The one model."""
        return self._embedder

    async def target(self, index: VectorIndex) -> IndexTarget:
        """The one store and model, whatever ``index``."""
        return IndexTarget(index, self._embedder, self._store)

    async def active(self, tenant_id: str, *, wait_for_switch: bool = False) -> IndexTarget:
        """The one store and model."""
        return await self.target(deployment_index(tenant_id))

    async def live(self, tenant_id: str) -> list[IndexTarget]:
        """The one store and model."""
        return [await self.active(tenant_id)]

    async def drop(self, index: VectorIndex) -> None:
        """Delete the tenant's points of the one store."""
        await self._store.delete_tenant(tenant_id=index.tenant_id)
