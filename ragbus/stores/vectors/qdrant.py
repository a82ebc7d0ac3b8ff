"""Qdrant adapter of the vector store port: one collection, partitioned by tenant.

In local mode (the embedded default) searches are answered by an exact in-memory
index kept next to the collection (``ragbus.stores.vectors.local_index``), because
local mode's own search walks every point in Python; writes go to Qdrant first.

Every tenant shares one collection; each point carries ``tenant_id`` in its
payload and every read, delete and count filters on it (Qdrant's recommended
payload-based multitenancy, with an ``is_tenant`` keyword index on a server).
Each point has a dense vector ``"dense"`` and a sparse BM25 vector ``"bm25"``
computed here from the chunk text by a :class:`~ragbus.embedding.sparse.SparseEncoder`;
Qdrant applies the IDF (``Modifier.IDF``). The embedding model and dimension are
kept in the collection's metadata.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt
from qdrant_client import AsyncQdrantClient, models

from ragbus.embedding.sparse import Bm25Encoder, SparseEncoder
from ragbus.stores.vectors.base import (
    ChunkRecord,
    Fusion,
    ScoredChunk,
    SearchMode,
    check_query,
    require_tenant,
)
from ragbus.stores.vectors.fusion import depth, fuse, grouped
from ragbus.stores.vectors.local_index import LocalIndex
from ragbus.stores.vectors.qdrant_local import forget_local_index, local_index, search_local
from ragbus.stores.vectors.qdrant_query import (
    DENSE,
    dense_of,
    point,
    query_arguments,
    tenant_filter,
)
from ragbus.stores.vectors.qdrant_schema import prepare_collection
from ragbus.stores.vectors.qdrant_support import (
    chunk_from_payload,
    is_local,
    qdrant_errors,
)
from ragbus.stores.vectors.windows import check_windows

log = logging.getLogger(__name__)

UPSERT_BATCH = 256


class QdrantVectorStore:
    """Chunk vectors in one Qdrant collection (server or local mode).

    Args:
        client: An open client; local mode is ``AsyncQdrantClient(path=...)``, which
            only one process may open (share one client per path in a process).
        collection: Collection holding every tenant's chunks.
        on_close: Called by :meth:`close` instead of closing ``client`` (used by the
            factory to reference-count a shared local client).
        sparse: Computes the BM25 vectors; :class:`~ragbus.embedding.sparse.Bm25Encoder` if omitted.
    """

    def __init__(
        self,
        client: AsyncQdrantClient,
        collection: str,
        *,
        on_close: Callable[[], Awaitable[None]] | None = None,
        sparse: SparseEncoder | None = None,
    ) -> None:
        self._client = client
        self._collection = collection
        self._on_close = on_close
        self._sparse = sparse or Bm25Encoder()
        self._dim: int | None = None
        self._index: LocalIndex | None = None
        self._closed = False
        self.holds_windows = False

    async def open(self, *, model_id: str, dim: int) -> None:
        """Create the collection for ``model_id``/``dim`` or verify the existing one.

        Raises:
            EmbeddingModelMismatchError: It holds vectors of another model or dim.
            RetryableError: Qdrant is unreachable.
        """
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        with qdrant_errors("open"):
            self.holds_windows = await prepare_collection(
                self._client, self._collection, model_id=model_id, dim=dim
            )
        await asyncio.to_thread(self._sparse.warm_up)
        if is_local(self._client):
            with qdrant_errors("load"):
                self._index = await local_index(self._client, self._collection, dim)
        self._dim = dim

    def _require_open(self) -> int:
        if self._dim is None:
            raise RuntimeError("QdrantVectorStore.open() must be called first")
        return self._dim

    async def upsert(
        self,
        chunks: Sequence[ChunkRecord],
        vectors: npt.NDArray[np.float32],
        windows: Sequence[int] | None = None,
    ) -> None:
        """Upsert points ``chunk_id`` with their dense and BM25 vectors, 256 per request.

        Waits until each request is applied; each point as :func:`.qdrant_query.point`.
        """
        dim = self._require_open()
        matrix, starts = check_windows(
            chunks, vectors, windows, dim, holds_windows=self.holds_windows
        )
        terms = await asyncio.to_thread(self._sparse.encode_documents, [c.text for c in chunks])
        for start in range(0, len(chunks), UPSERT_BATCH):
            points = []
            for i in range(start, min(start + UPSERT_BATCH, len(chunks))):
                rows = matrix[starts[i] : starts[i + 1]]
                points.append(point(chunks[i], rows, terms[i], multivector=self.holds_windows))
            with qdrant_errors("upsert"):
                await self._client.upsert(self._collection, points=points, wait=True)
            if self._index is not None:
                end = start + len(points)
                offsets = starts[start : end + 1] - starts[start]
                rows = matrix[starts[start] : starts[end]]
                self._index.upsert(chunks[start:end], rows, terms[start:end], offsets)

    async def search(
        self,
        *,
        tenant_id: str,
        vector: npt.NDArray[np.float32] | None,
        top_k: int,
        document_ids: Sequence[UUID] | None = None,
        text: str | None = None,
        mode: SearchMode = "dense",
        fusion: Fusion | None = None,
        with_vectors: bool = False,
    ) -> list[ScoredChunk]:
        """The tenant's ``top_k`` best chunks for ``mode``, best first (see the port).

        Scores: cosine for ``dense``, BM25 (IDF from the whole collection) for
        ``sparse``, weighted RRF for ``hybrid`` (by Qdrant's ``RrfQuery``; grouped by
        document, the two lists are read and fused here, see
        :mod:`ragbus.stores.vectors.fusion`). A question of only stopwords has no
        sparse terms: ``sparse`` returns ``[]`` and ``hybrid`` falls back to ``dense``.
        """
        query = check_query(vector, self._require_open(), top_k, mode=mode, text=text)
        tenant_id = require_tenant(tenant_id)
        extra: list[models.Condition] = []
        if document_ids is not None:
            if not document_ids:
                return []
            ids = [str(d) for d in document_ids]
            extra.append(models.FieldCondition(key="document_id", match=models.MatchAny(any=ids)))
        terms = None if mode == "dense" else self._sparse.encode_query(text or "")
        if terms is not None and not terms.indices:
            if mode == "sparse":
                return []
            mode = "dense"
        if self._index is not None:
            return search_local(
                self._index,
                tenant_id=tenant_id,
                mode=mode,
                dense=query,
                sparse=terms,
                top_k=top_k,
                document_ids=document_ids,
                fusion=fusion or Fusion(),
                with_vectors=with_vectors,
            )
        fusion = fusion or Fusion()
        flt = tenant_filter(tenant_id, *extra)
        arguments = partial(
            query_arguments, dense=query, sparse=terms, flt=flt, fusion=fusion,
            multivector=self.holds_windows,
        )  # fmt: skip
        if mode == "hybrid" and fusion.group_by == "document":  # fused here, not by Qdrant
            sides = [arguments(m, top_k=fusion.candidates) for m in ("dense", "sparse")]
            lists = [await self._query(side, with_vectors) for side in sides]
            return fuse(lists, fusion, top_k)
        n = depth(mode, fusion, top_k) if mode != "hybrid" else top_k
        hits = await self._query(arguments(mode, top_k=n), with_vectors)
        return hits if mode == "hybrid" else grouped(hits, fusion, top_k)

    async def _query(self, arguments: dict[str, Any], with_vectors: bool) -> list[ScoredChunk]:
        """``query_points`` with ``arguments`` (see ``qdrant_query``), as hits."""
        if with_vectors:
            arguments["with_vectors"] = [DENSE]
        with qdrant_errors("search"):
            response = await self._client.query_points(self._collection, **arguments)
        return [
            ScoredChunk(
                chunk_from_payload(p.id, p.payload or {}),
                float(p.score),
                dense_of(p) if with_vectors else None,
            )
            for p in response.points
        ]

    def _document_filter(
        self, tenant_id: str, document_id: UUID, keep_version: int | None = None
    ) -> models.Filter:
        document = models.MatchValue(value=str(document_id))
        flt = tenant_filter(
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
        if self._index is not None:
            self._index.remove(tenant_id, document_id=document_id, keep_version=keep_version)

    async def delete_chunks(self, *, tenant_id: str, chunk_ids: Sequence[UUID]) -> None:
        """Delete these points of the tenant (point ids are chunk ids); idempotent."""
        if not chunk_ids:
            return
        ids = models.HasIdCondition(has_id=[str(c) for c in chunk_ids])
        selector = models.FilterSelector(filter=tenant_filter(require_tenant(tenant_id), ids))
        with qdrant_errors("delete"):
            await self._client.delete(self._collection, points_selector=selector, wait=True)
        if self._index is not None:
            self._index.remove(tenant_id, chunk_ids=chunk_ids)

    async def count(self, *, tenant_id: str, document_id: UUID | None = None) -> int:
        """Exact number of the tenant's points, or of one document's."""
        if document_id is None:
            flt = tenant_filter(require_tenant(tenant_id))
        else:
            flt = self._document_filter(tenant_id, document_id)
        with qdrant_errors("count"):
            result = await self._client.count(self._collection, count_filter=flt, exact=True)
        return result.count

    async def delete_tenant(self, *, tenant_id: str) -> None:
        """Delete every point of the tenant (an index version it left); idempotent."""
        selector = models.FilterSelector(filter=tenant_filter(require_tenant(tenant_id)))
        with qdrant_errors("delete"):
            await self._client.delete(self._collection, points_selector=selector, wait=True)
        if self._index is not None:
            self._index.drop_tenant(tenant_id)

    async def drop(self) -> None:
        """Delete the collection (an index version nobody uses); idempotent."""
        with qdrant_errors("drop"):
            await self._client.delete_collection(self._collection)
        forget_local_index(self._client, self._collection)
        self._dim, self._index = None, None

    async def ping(self) -> None:
        """Read the collection's point count (cheap in both server and local mode).

        Raises:
            RetryableError: Qdrant is unreachable.
        """
        with qdrant_errors("ping"):
            await self._client.count(self._collection, exact=False)

    async def close(self) -> None:
        """Close the client, or hand it back to its owner via ``on_close``; idempotent."""
        if self._closed:
            return
        self._closed, self._dim, self._index = True, None, None
        if self._on_close is not None:
            await self._on_close()
        else:
            await self._client.close()
