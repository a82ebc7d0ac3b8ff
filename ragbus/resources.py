"""Heavy shared resources, opened once per process and handed to every service.

In ``ragbus up`` all services share one :class:`Resources`: one Postgres pool, one
Qdrant local client (local mode allows a single opener), one blob store and one
loaded embedding model. A service run on its own builds its own.
"""

import asyncio
import logging

import asyncpg

from ragbus.embedding import CachingEmbedder, Embedder, EmbeddingCacheSettings, get_embedder
from ragbus.settings import InfraSettings
from ragbus.stores.blobs import BlobStore
from ragbus.stores.documents import DocumentRepository
from ragbus.stores.factory import default_collection, open_blob_store, open_vector_store
from ragbus.stores.postgres import create_pool, migrate
from ragbus.stores.queries import QueryRepository
from ragbus.stores.vector_indexes import VectorIndex
from ragbus.stores.vectors.base import VectorStore

log = logging.getLogger(__name__)


class Resources:
    """Lazily opened stores and model; every getter is safe to call concurrently.

    Args:
        infra: Connection settings.
        embedder: An embedder to use instead of the configured model (tests).
    """

    def __init__(self, infra: InfraSettings, *, embedder: Embedder | None = None) -> None:
        self.infra = infra
        self._embedder = embedder
        self._lock = asyncio.Lock()
        self._blob_lock = asyncio.Lock()
        self._pool: asyncpg.Pool | None = None
        self._vectors: VectorStore | None = None
        self._blobs: BlobStore | None = None
        self._index_lock = asyncio.Lock()
        self._index_embedders: dict[tuple[str, str], Embedder] = {}
        self._index_stores: dict[int, VectorStore] = {}

    async def pool(self) -> asyncpg.Pool:
        """The Postgres pool, with migrations applied.

        Raises:
            ValueError: if no ``DATABASE_URL`` is configured.
        """
        async with self._lock:
            if self._pool is None:
                if not self.infra.database_url:
                    raise ValueError("DATABASE_URL is not set: ragbus needs a Postgres database")
                pool = await create_pool(self.infra.database_url)
                await migrate(pool)
                self._pool = pool
            return self._pool

    async def documents(self) -> DocumentRepository:
        """The document repository."""
        return DocumentRepository(await self.pool())

    async def queries(self) -> QueryRepository:
        """The query repository."""
        return QueryRepository(await self.pool())

    async def embedder(self) -> Embedder:
        """The embedding model behind the process's embedding cache
        (:class:`~ragbus.embedding.CachingEmbedder`, ``RAGBUS_EMBED_CACHE_ENTRIES``),
        loaded (in a worker thread) on first use."""
        embedder = get_embedder(self.infra) if self._embedder is None else self._embedder
        if not isinstance(embedder, CachingEmbedder):
            entries = EmbeddingCacheSettings().entries
            embedder = CachingEmbedder(embedder, max_entries=entries)
        self._embedder = embedder
        await asyncio.to_thread(embedder.warm_up)
        return embedder

    async def vector_store(self) -> VectorStore:
        """The vector store, opened for the embedding model's id and dimension.

        Raises:
            EmbeddingModelMismatchError: if the index holds another model's vectors.
        """
        embedder = await self.embedder()
        pool = await self.pool() if self.infra.vector_store == "pgvector" else None
        async with self._lock:
            if self._vectors is None:
                store = await open_vector_store(self.infra, pool=pool)
                await store.open(model_id=embedder.model_id, dim=embedder.dim)
                self._vectors = store
            return self._vectors

    async def index_embedder(self, index: VectorIndex, *, tokens_only: bool = False) -> Embedder:
        """The model of an index version: :meth:`embedder` for the deployment's model and
        precision, else that model, loaded once per process.

        Args:
            tokens_only: Only its tokenizer and token limit are needed (chunking),
                which do not depend on the precision.
        """
        model = index.model or self.infra.embed_model
        precision = index.precision or self.infra.embed_precision
        deployment = (self.infra.embed_model, self.infra.embed_precision)
        if tokens_only or (model, precision) == deployment:
            if model == self.infra.embed_model:
                return await self.embedder()
            precision = self.infra.embed_precision
        async with self._index_lock:
            found = self._index_embedders.get((model, precision))
            if found is None:
                path = self.infra.embed_model_path if model == self.infra.embed_model else None
                update = {"embed_model": model, "embed_precision": precision}
                infra = self.infra.model_copy(update={**update, "embed_model_path": path})
                entries = EmbeddingCacheSettings().entries
                found = CachingEmbedder(get_embedder(infra), max_entries=entries)
                await asyncio.to_thread(found.warm_up)
                self._index_embedders[model, precision] = found
            return found

    async def index_store(self, index: VectorIndex) -> VectorStore:
        """The vector store of an index version, opened for its model (once per process);
        :meth:`vector_store` for the deployment's shared one."""
        if index.shared or index.id is None:
            return await self.vector_store()
        embedder = await self.index_embedder(index)
        pool = await self.pool() if self.infra.vector_store == "pgvector" else None
        async with self._index_lock:
            store = self._index_stores.get(index.id)
            if store is None:
                name = index.collection(default_collection(self.infra))
                store = await open_vector_store(self.infra, pool=pool, collection=name)
                await store.open(model_id=embedder.model_id, dim=embedder.dim)
                self._index_stores[index.id] = store
            return store

    async def detach_index_store(self, index: VectorIndex) -> VectorStore:
        """An index version's own store, taken out of this process's cache (to drop it);
        not opened unless it was. The caller closes it."""
        assert not index.shared and index.id is not None
        store = self._index_stores.pop(index.id, None)
        if store is not None:
            return store
        pool = await self.pool() if self.infra.vector_store == "pgvector" else None
        name = index.collection(default_collection(self.infra))
        return await open_vector_store(self.infra, pool=pool, collection=name)

    def opened_vector_store(self) -> VectorStore | None:
        """The vector store if this process has opened it already, else ``None``."""
        return self._vectors

    async def blob_store(self) -> BlobStore:
        """The blob store (S3 when ``S3_ENDPOINT`` is set, else a local directory)."""
        async with self._blob_lock:  # not behind a slow Postgres or model start
            if self._blobs is None:
                self._blobs = await open_blob_store(self.infra)
            return self._blobs

    async def close(self) -> None:
        """Close everything that was opened; idempotent."""
        for store in self._index_stores.values():
            await store.close()
        self._index_stores.clear()
        if self._vectors is not None:
            await self._vectors.close()
            self._vectors = None
        if self._blobs is not None:
            await self._blobs.close()
            self._blobs = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
