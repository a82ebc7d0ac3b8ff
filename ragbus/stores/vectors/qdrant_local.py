"""One :class:`LocalIndex` per local-mode client and collection, loaded from Qdrant once.

Every :class:`~ragbus.stores.vectors.qdrant.QdrantVectorStore` opened on the same
local client (``ragbus up`` opens one per service) must read and update the same
index, or one service's writes would be invisible to another's searches; so the
index hangs off the client object, and the first store to open loads it.
"""

import asyncio
import logging
import time
import weakref
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt
from qdrant_client import AsyncQdrantClient

from ragbus.embedding.sparse import SparseVector
from ragbus.stores.vectors.base import Fusion, ScoredChunk, SearchMode
from ragbus.stores.vectors.fusion import depth, fuse, grouped
from ragbus.stores.vectors.local_index import LocalIndex
from ragbus.stores.vectors.qdrant_query import DENSE, SPARSE
from ragbus.stores.vectors.qdrant_support import chunk_from_payload

log = logging.getLogger(__name__)

LOAD_PAGE = 1024
"""Points read per scroll request while loading."""

_INDEXES: "weakref.WeakKeyDictionary[AsyncQdrantClient, dict[str, asyncio.Future[LocalIndex]]]"
_INDEXES = weakref.WeakKeyDictionary()


async def local_index(client: AsyncQdrantClient, collection: str, dim: int) -> LocalIndex:
    """The index of ``collection`` on this local-mode ``client``, loaded on first use.

    Loading reads every point with its vectors and payload (about 1 s per 10,000
    chunks here). Concurrent callers share one load; a failed load is retried by
    the next caller.

    Raises:
        RetryableError, PermanentError: Reading the collection failed.
    """
    loads = _INDEXES.setdefault(client, {})
    load = loads.get(collection)
    if load is None:
        load = loads[collection] = asyncio.ensure_future(_load(client, collection, dim))
    try:
        return await asyncio.shield(load)
    except Exception:
        if loads.get(collection) is load:
            del loads[collection]
        raise


def forget_local_index(client: AsyncQdrantClient, collection: str) -> None:
    """Forget ``collection``'s index (it was dropped); a later open loads it afresh."""
    _INDEXES.get(client, {}).pop(collection, None)


async def _load(client: AsyncQdrantClient, collection: str, dim: int) -> LocalIndex:
    index = LocalIndex(dim)
    offset: Any = None
    started = time.perf_counter()
    points_read = 0
    while True:
        points, offset = await client.scroll(
            collection, limit=LOAD_PAGE, offset=offset, with_payload=True, with_vectors=True
        )
        points_read += len(points)
        if points:
            chunks, dense, sparse, counts = [], [], [], []
            for point in points:
                vectors = point.vector if isinstance(point.vector, dict) else {}
                chunks.append(chunk_from_payload(point.id, point.payload or {}))
                rows = np.asarray(vectors[DENSE], dtype=np.float32).reshape(-1, dim)
                dense.append(rows)  # one row, or a multivector's windows
                counts.append(len(rows))
                terms = vectors.get(SPARSE)
                sparse.append(
                    None if terms is None else SparseVector(list(terms.indices), list(terms.values))  # type: ignore[union-attr]
                )
            starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            index.upsert(chunks, np.concatenate(dense), sparse, starts, tidy=False)
        if offset is None:
            index.tidy()  # one merge and one int8 copy per partition, not one per page
            seconds = round(time.perf_counter() - started, 2)
            log.info(
                "local search index loaded",
                extra={"collection": collection, "points": points_read, "seconds": seconds},
            )
            return index


def search_local(
    index: LocalIndex,
    *,
    tenant_id: str,
    mode: SearchMode,
    dense: npt.NDArray[np.float32],
    sparse: SparseVector | None,
    top_k: int,
    document_ids: Sequence[UUID] | None,
    fusion: Fusion,
    with_vectors: bool,
) -> list[ScoredChunk]:
    """What Qdrant returns for ``qdrant_query.query_arguments(mode, ...)``, from ``index``.

    ``hybrid`` takes ``fusion.candidates`` hits from each list and fuses them with
    :func:`~ragbus.stores.vectors.fusion.fuse`: per chunk, Qdrant's weighted RRF; per
    document, :func:`~ragbus.stores.vectors.fusion.fuse_documents`. A single list
    grouped by document is read ``fusion.candidates`` deep first.
    """

    def dense_hits(limit: int) -> list[ScoredChunk]:
        return index.dense_search(tenant_id, dense, limit, document_ids, with_vectors=with_vectors)

    def sparse_hits(limit: int) -> list[ScoredChunk]:
        assert sparse is not None
        return index.sparse_search(
            tenant_id, sparse, limit, document_ids, with_vectors=with_vectors
        )

    n = depth(mode, fusion, top_k)
    if mode == "dense":
        return grouped(dense_hits(n), fusion, top_k)
    if mode == "sparse":
        return grouped(sparse_hits(n), fusion, top_k)
    return fuse([dense_hits(n), sparse_hits(n)], fusion, top_k)
