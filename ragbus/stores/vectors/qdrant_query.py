"""Qdrant query-API requests for the three search modes (dense, sparse, hybrid).

``hybrid`` is one ``query_points`` call: a dense and a sparse prefetch, both
filtered by the tenant, fused by Qdrant's weighted RRF (``RrfQuery``), so both
candidate lists come from the same snapshot and the fusion runs next to the data.
"""

from typing import Any

import numpy as np
import numpy.typing as npt
from qdrant_client import models

from ragbus.embedding.sparse import SparseVector
from ragbus.stores.vectors.base import ChunkRecord, Fusion, SearchMode
from ragbus.stores.vectors.qdrant_support import chunk_payload

DENSE = "dense"
"""Name of the dense vector in the collection."""
SPARSE = "bm25"
"""Name of the sparse vector; Qdrant applies IDF to it (``Modifier.IDF``)."""

SPARSE_PARAMS = models.SparseVectorParams(modifier=models.Modifier.IDF)


def tenant_filter(tenant_id: str, *extra: models.Condition) -> models.Filter:
    """``tenant_id`` must match, plus every condition in ``extra``."""
    tenant = models.FieldCondition(key="tenant_id", match=models.MatchValue(value=tenant_id))
    return models.Filter(must=[tenant, *extra])


def _sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=vector.indices, values=vector.values)


def query_arguments(
    mode: SearchMode,
    *,
    dense: npt.NDArray[np.float32],
    sparse: SparseVector | None,
    flt: models.Filter,
    top_k: int,
    fusion: Fusion,
    multivector: bool = False,
) -> dict[str, Any]:
    """Keyword arguments of ``query_points`` for ``mode`` (without the collection).

    Args:
        mode: ``dense``, ``sparse`` or ``hybrid``.
        dense: The question's embedding, ``(dim,)`` (unused by ``sparse``).
        sparse: The question's terms (unused by ``dense``).
        flt: The tenant filter (and any others); it applies to every prefetch too.
        top_k: Hits returned.
        fusion: RRF constant, weights and candidates per list, for ``hybrid``.
        multivector: The dense vector holds windows (``MAX_SIM``): the question goes
            as a multivector of one row, whose score is its best window's cosine.
    """
    question = [dense.tolist()] if multivector else dense.tolist()
    common: dict[str, Any] = {
        "query_filter": flt,
        "limit": top_k,
        "with_payload": True,
        "with_vectors": False,
    }
    if mode == "dense":
        return {**common, "query": question, "using": DENSE}
    assert sparse is not None
    if mode == "sparse":
        return {**common, "query": _sparse(sparse), "using": SPARSE}
    # The top-level filter reaches every prefetch (server and local mode propagate
    # it into the leaves), so each candidate list is already the tenant's only.
    prefetch = [
        models.Prefetch(query=question, using=DENSE, limit=fusion.candidates),
        models.Prefetch(query=_sparse(sparse), using=SPARSE, limit=fusion.candidates),
    ]
    rrf = models.Rrf(k=fusion.k, weights=[fusion.dense_weight, fusion.sparse_weight])
    return {**common, "prefetch": prefetch, "query": models.RrfQuery(rrf=rrf)}


def dense_of(point: models.ScoredPoint) -> npt.NDArray[np.float32] | None:
    """The dense embedding of a point fetched with ``with_vectors=[DENSE]``, if any:
    its first window's where it holds several."""
    vectors = point.vector
    if isinstance(vectors, dict) and isinstance(vectors.get(DENSE), list):
        dense = np.asarray(vectors[DENSE], dtype=np.float32)
        return dense[0] if dense.ndim == 2 else dense
    return None


def point(
    chunk: ChunkRecord,
    rows: npt.NDArray[np.float32],
    terms: SparseVector,
    *,
    multivector: bool,
) -> models.PointStruct:
    """The point of ``chunk`` with its dense windows ``rows`` ``(k, dim)`` and BM25 terms.

    The dense vector is the multivector of the windows where the collection holds
    them, else the one row. A chunk whose text is only stopwords gets no sparse
    vector (Qdrant rejects empty ones), so only dense search finds it.
    """
    named: dict[str, Any] = {DENSE: rows.tolist() if multivector else rows[0].tolist()}
    if terms.indices:
        named[SPARSE] = _sparse(terms)
    return models.PointStruct(id=str(chunk.chunk_id), vector=named, payload=chunk_payload(chunk))
