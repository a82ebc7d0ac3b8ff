"""Qdrant adapter of the vector store port: one collection, partitioned by tenant.

Every tenant shares one collection; each point carries ``tenant_id`` in its
payload and every read, delete and count filters on it (Qdrant's recommended
payload-based multitenancy, with an ``is_tenant`` keyword index on a server).
The dense vector is named ``"dense"`` so a sparse vector can be added later.
The embedding model and dimension are kept in the collection's metadata.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from uuid import UUID

import numpy as np
import numpy.typing as npt
from qdrant_client import AsyncQdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from ragbus.errors import PermanentError
from ragbus.stores.vectors.base import (
    ChunkRecord,
    ScoredChunk,
    check_batch,
    check_query,
    mismatch,
    require_tenant,
)
from ragbus.stores.vectors.qdrant_support import (
    chunk_from_payload,
    chunk_payload,
    is_local,
    qdrant_errors,
    relax_local_fsync,
)

log = logging.getLogger(__name__)

DENSE = "dense"
UPSERT_BATCH = 256
_MODEL_KEY = "ragbus_embed_model"
_DIM_KEY = "ragbus_embed_dim"


def _tenant_filter(tenant_id: str, *extra: models.Condition) -> models.Filter:
    tenant = models.FieldCondition(key="tenant_id", match=models.MatchValue(value=tenant_id))
    return models.Filter(must=[tenant, *extra])


class QdrantVectorStore:
    """Chunk vectors in one Qdrant collection (server or local mode).

    Args:
        client: An open client; local mode is ``AsyncQdrantClient(path=...)``, which
            only one process may open (share one client per path in a process).
        collection: Collection holding every tenant's chunks.
        on_close: Called by :meth:`close` instead of closing ``client`` (used by the
            factory to reference-count a shared local client).
    """

    def __init__(
        self,
        client: AsyncQdrantClient,
        collection: str,
        *,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._client = client
        self._collection = collection
        self._on_close = on_close
        self._dim: int | None = None
        self._closed = False

    async def open(self, *, model_id: str, dim: int) -> None:
        """Create the collection for ``model_id``/``dim`` or verify the existing one.

        Raises:
            EmbeddingModelMismatchError: It holds vectors of another model or dim.
            RetryableError: Qdrant is unreachable.
        """
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        with qdrant_errors("open"):
            if not await self._client.collection_exists(self._collection):
                await self._create(model_id, dim)
            info = await self._client.get_collection(self._collection)
            self._verify(info, model_id, dim)
            if is_local(self._client):  # local mode ignores payload indexes (and warns)
                relax_local_fsync(self._client, self._collection)
            else:
                await self._client.create_payload_index(
                    self._collection,
                    "tenant_id",
                    field_schema=models.KeywordIndexParams(
                        type=models.KeywordIndexType.KEYWORD, is_tenant=True
                    ),
                )
                await self._client.create_payload_index(
                    self._collection, "document_id", field_schema=models.PayloadSchemaType.KEYWORD
                )
        self._dim = dim

    async def _create(self, model_id: str, dim: int) -> None:
        try:
            await self._client.create_collection(
                self._collection,
                vectors_config={
                    DENSE: models.VectorParams(size=dim, distance=models.Distance.COSINE)
                },
                # Per-tenant HNSW graphs instead of one global graph: every search
                # filters by tenant (Qdrant's multitenancy guidance).
                hnsw_config=models.HnswConfigDiff(payload_m=16, m=0),
                metadata={_MODEL_KEY: model_id, _DIM_KEY: dim},
            )
        except UnexpectedResponse as exc:  # another service created it first
            if exc.status_code != 409:
                raise
        except ValueError as exc:  # local mode's "already exists"
            if "already exists" not in str(exc):
                raise

    def _verify(self, info: models.CollectionInfo, model_id: str, dim: int) -> None:
        where = f"qdrant collection {self._collection!r}"
        vectors = info.config.params.vectors
        params = vectors.get(DENSE) if isinstance(vectors, dict) else None
        if params is None:
            raise PermanentError(f"{where} has no vector named {DENSE!r}; ragbus did not make it")
        meta = info.config.metadata or {}
        stored_model = meta.get(_MODEL_KEY)
        if stored_model is None:  # servers before 1.16 drop collection metadata
            log.warning("no model metadata; checking dim only", extra={"where": where})
            stored_model = model_id
        if (stored_model, params.size) != (model_id, dim):
            raise mismatch(where, stored=(stored_model, params.size), wanted=(model_id, dim))

    def _require_open(self) -> int:
        if self._dim is None:
            raise RuntimeError("QdrantVectorStore.open() must be called first")
        return self._dim

    async def upsert(self, chunks: Sequence[ChunkRecord], vectors: npt.NDArray[np.float32]) -> None:
        """Upsert points ``chunk_id`` in batches of 256, waiting until each is applied."""
        matrix = check_batch(chunks, vectors, self._require_open())
        for start in range(0, len(chunks), UPSERT_BATCH):
            points = [
                models.PointStruct(
                    id=str(chunk.chunk_id),
                    vector={DENSE: row.tolist()},
                    payload=chunk_payload(chunk),
                )
                for chunk, row in zip(
                    chunks[start : start + UPSERT_BATCH],
                    matrix[start : start + UPSERT_BATCH],
                    strict=True,
                )
            ]
            with qdrant_errors("upsert"):
                await self._client.upsert(self._collection, points=points, wait=True)

    async def search(
        self,
        *,
        tenant_id: str,
        vector: npt.NDArray[np.float32],
        top_k: int,
        document_ids: Sequence[UUID] | None = None,
    ) -> list[ScoredChunk]:
        """The tenant's ``top_k`` nearest chunks by cosine similarity, best first."""
        query = check_query(vector, self._require_open(), top_k)
        extra: list[models.Condition] = []
        if document_ids is not None:
            if not document_ids:
                return []
            ids = [str(d) for d in document_ids]
            extra.append(models.FieldCondition(key="document_id", match=models.MatchAny(any=ids)))
        with qdrant_errors("search"):
            response = await self._client.query_points(
                self._collection,
                query=query.tolist(),
                using=DENSE,
                query_filter=_tenant_filter(require_tenant(tenant_id), *extra),
                limit=top_k,
                with_payload=True,
                with_vectors=False,
            )
        return [
            ScoredChunk(chunk_from_payload(p.id, p.payload or {}), float(p.score))
            for p in response.points
        ]

    def _document_filter(
        self, tenant_id: str, document_id: UUID, keep_version: int | None = None
    ) -> models.Filter:
        document = models.MatchValue(value=str(document_id))
        flt = _tenant_filter(
            require_tenant(tenant_id), models.FieldCondition(key="document_id", match=document)
        )
        if keep_version is not None:
            keep = models.FieldCondition(key="version", match=models.MatchValue(value=keep_version))
            flt.must_not = [keep]
        return flt

    async def delete_document(
        self, *, tenant_id: str, document_id: UUID, keep_version: int | None = None
    ) -> None:
        """Delete the document's points (all, or those not of ``keep_version``); idempotent."""
        selector = models.FilterSelector(
            filter=self._document_filter(tenant_id, document_id, keep_version)
        )
        with qdrant_errors("delete"):
            await self._client.delete(self._collection, points_selector=selector, wait=True)

    async def count(self, *, tenant_id: str, document_id: UUID | None = None) -> int:
        """Exact number of the tenant's points, or of one document's."""
        if document_id is None:
            flt = _tenant_filter(require_tenant(tenant_id))
        else:
            flt = self._document_filter(tenant_id, document_id)
        with qdrant_errors("count"):
            result = await self._client.count(self._collection, count_filter=flt, exact=True)
        return result.count

    async def close(self) -> None:
        """Close the client, or hand it back to its owner via ``on_close``; idempotent."""
        if self._closed:
            return
        self._closed, self._dim = True, None
        if self._on_close is not None:
            await self._on_close()
        else:
            await self._client.close()
