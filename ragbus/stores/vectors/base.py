"""The vector store port: tenant-scoped upsert, search and delete of chunk embeddings."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol
from uuid import UUID

import numpy as np
import numpy.typing as npt

from ragbus.errors import EmbeddingModelMismatchError


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """A chunk as stored next to its vector.

    Attributes:
        chunk_id: uuid5 of (tenant, document, version, index); the point / row id.
        tenant_id: Owner; never empty.
        document_id: Document the chunk belongs to.
        version: Document version the chunk was cut from.
        chunk_index: 0-based position in the document.
        text: Chunk text.
        filename: The document's file name.
        title: The document's title, if known.
        page: 1-based PDF page, if any.
        heading: Heading path, if any.
        token_count: Tokens of ``text`` under the embedding model's tokenizer.
    """

    chunk_id: UUID
    tenant_id: str
    document_id: UUID
    version: int
    chunk_index: int
    text: str
    filename: str
    title: str | None
    page: int | None
    heading: str | None
    token_count: int


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    """A search hit, higher is closer.

    ``score`` is cosine similarity in [-1, 1] for ``dense`` search, the BM25 score
    (IDF as Qdrant's ``Modifier.IDF``) for ``sparse``, and the fused RRF score for
    ``hybrid`` (see :func:`rrf_fuse`). ``vector`` is the chunk's embedding,
    ``(dim,)``, when the search asked for it (``with_vectors=True``).
    """

    chunk: ChunkRecord
    score: float
    vector: npt.NDArray[np.float32] | None = field(default=None, compare=False, repr=False)


SearchMode = Literal["dense", "sparse", "hybrid"]
"""``dense``: embedding similarity; ``sparse``: BM25 terms; ``hybrid``: both, RRF-fused."""


FusionMethod = Literal["rrf", "convex"]
"""How ``hybrid`` fuses documents: reciprocal ranks, or a convex mix of normalised scores."""

GroupBy = Literal["chunk", "document"]
"""Rank chunks on their own, or documents from their chunks (see ``stores.vectors.fusion``)."""


@dataclass(frozen=True, slots=True)
class Fusion:
    """How a search ranks: ``hybrid``'s weighted reciprocal rank fusion, and grouping.

    Attributes:
        k: RRF rank constant; a hit at 0-based rank ``r`` of a list with weight ``w``
            adds ``1 / ((r + 1) / w + k - 1)`` (Qdrant's formula; with ``w = 1`` it is
            Cormack et al. 2009's ``1 / (k + rank)``).
        dense_weight: Weight of the dense list.
        sparse_weight: Weight of the sparse list.
        candidates: Hits taken from each list before fusing (and, grouping by
            document, from the one list of ``dense`` or ``sparse``).
        group_by: ``chunk``: chunks ranked and fused on their own. ``document``:
            documents ranked from their chunks in each list, fused by RRF over
            document ranks, each returned as its best passages
            (:func:`ragbus.stores.vectors.fusion.fuse_documents`); in every mode.
        decay: With ``document``: a document's score in one list is its chunks'
            scores summed with weights ``1, decay, decay**2, ...``.
        per_document: With ``document``: most passages returned per document.
        method: With ``document``, how ``hybrid`` fuses: ``rrf`` over document
            ranks (``k`` and the weights above), or ``convex``, a mix of the lists'
            max-normalised document scores (``alpha``).
        alpha: ``convex``'s dense share; the sparse list's is ``1 - alpha``.
    """

    k: int = 60
    dense_weight: float = 1.0
    sparse_weight: float = 1.0
    candidates: int = 100
    group_by: GroupBy = "chunk"
    decay: float = 0.0
    per_document: int = 3
    method: FusionMethod = "rrf"
    alpha: float = 0.5


def rrf_fuse(
    lists: Sequence[Sequence[ScoredChunk]], weights: Sequence[float], *, k: int, limit: int
) -> list[ScoredChunk]:
    """Weighted RRF of ranked lists, exactly as Qdrant's query API computes it.

    Args:
        lists: Ranked hits, best first; the same chunk may appear in several.
        weights: One per list; a weight <= 0 ignores that list.
        k: Rank constant (see :class:`Fusion`).
        limit: Longest result.

    Returns:
        The fused hits, best first, each scored by its summed RRF contribution.
    """
    scores: dict[UUID, float] = {}
    chunks: dict[UUID, ScoredChunk] = {}
    for hits, weight in zip(lists, weights, strict=True):
        if weight <= 0:
            continue
        for rank, hit in enumerate(hits):
            key = hit.chunk.chunk_id
            chunks.setdefault(key, hit)
            scores[key] = scores.get(key, 0.0) + 1.0 / ((rank + 1.0) / weight + k - 1.0)
    best = sorted(scores.items(), key=lambda item: item[1], reverse=True)[:limit]
    return [ScoredChunk(chunks[key].chunk, score, chunks[key].vector) for key, score in best]


class VectorStore(Protocol):
    """Where chunk embeddings live; every read and delete is scoped to one tenant.

    ``tenant_id`` is a required keyword argument everywhere, and an empty one
    raises ``ValueError``, so a query can never run across tenants.
    """

    async def open(self, *, model_id: str, dim: int) -> None:
        """Create the index for ``model_id``/``dim`` or verify the existing one.

        Raises:
            EmbeddingModelMismatchError: The index was built with another model or dim.
            RetryableError: The backend is unreachable.
        """
        ...

    holds_windows: bool
    """After ``open``: a chunk may have several dense vectors, scored by its best."""

    async def upsert(
        self,
        chunks: Sequence[ChunkRecord],
        vectors: npt.NDArray[np.float32],
        windows: Sequence[int] | None = None,
    ) -> None:
        """Insert or replace chunks by ``chunk_id``; repeating it changes nothing.

        Args:
            chunks: The chunks, any tenants.
            vectors: ``(sum(windows), dim)`` float32: each chunk's rows in order
                (``(len(chunks), dim)``, one each, when ``windows`` is ``None``).
            windows: Dense vectors per chunk, each >= 1 (:mod:`.windows`); more
                than one only where ``holds_windows``.

        Raises:
            ValueError: Shapes disagree, a chunk has no tenant, or several windows
                go to a store that does not hold them.
        """
        ...

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
        """The ``top_k`` chunks of ``tenant_id`` that best match the query, best first.

        Args:
            tenant_id: Owner; always filtered on, never optional.
            vector: The question's embedding, shape ``(dim,)``; needed by ``dense``
                and ``hybrid``.
            top_k: Most hits returned.
            document_ids: Only these documents (empty -> ``[]``).
            text: The question; needed by ``sparse`` and ``hybrid``.
            mode: See :data:`SearchMode`.
            fusion: ``hybrid``'s fusion; ``Fusion()`` when omitted.
            with_vectors: Also return each hit's dense embedding (for MMR).

        Raises:
            ValueError: A mode's input is missing, or a shape is wrong.
        """
        ...

    async def delete_document(
        self, *, tenant_id: str, document_id: UUID, keep_version: int | None = None
    ) -> None:
        """Remove a document's chunks, or only those of versions other than ``keep_version``."""
        ...

    async def delete_chunks(self, *, tenant_id: str, chunk_ids: Sequence[UUID]) -> None:
        """Remove these chunks of the tenant (those stored); idempotent."""
        ...

    async def count(self, *, tenant_id: str, document_id: UUID | None = None) -> int:
        """Chunks stored for the tenant, or for one of its documents."""
        ...

    async def delete_tenant(self, *, tenant_id: str) -> None:
        """Remove every chunk of the tenant (an index version it stopped using); idempotent."""
        ...

    async def drop(self) -> None:
        """Delete the whole collection or table, opened or not (an index version no
        tenant uses any more); idempotent. The store cannot be used afterwards."""
        ...

    async def ping(self) -> None:
        """Check the backend answers (readiness probes).

        Raises:
            RetryableError: The backend is unreachable.
        """
        ...

    async def close(self) -> None:
        """Release connections; the store cannot be used afterwards."""
        ...


def require_tenant(tenant_id: str) -> str:
    """Return ``tenant_id`` or raise ``ValueError`` if it is empty or not a string."""
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ValueError("tenant_id is required and must be a non-empty string")
    return tenant_id


def check_query(
    vector: npt.NDArray[np.float32] | None,
    dim: int,
    top_k: int,
    *,
    mode: SearchMode = "dense",
    text: str | None = None,
) -> npt.NDArray[np.float32]:
    """Validate a search; returns the query vector flat (empty for ``sparse``).

    Raises:
        ValueError: Wrong shape, ``top_k`` below 1, an unknown mode, no vector for
            ``dense``/``hybrid`` or no text for ``sparse``/``hybrid``.
    """
    if mode not in ("dense", "sparse", "hybrid"):
        raise ValueError(f"unknown search mode {mode!r}")
    if mode != "dense" and text is None:
        raise ValueError(f"{mode} search needs the question's text")
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    if mode == "sparse":
        return np.empty(0, dtype=np.float32)
    if vector is None:
        raise ValueError(f"{mode} search needs the question's vector")
    flat = np.asarray(vector, dtype=np.float32).reshape(-1)
    if flat.shape != (dim,):
        raise ValueError(f"query vector has {flat.size} values; expected {dim}")
    return flat


def mismatch(where: str, *, stored: tuple[str, int], wanted: tuple[str, int]) -> Exception:
    """The error for an index built with another model: names both models and dims."""
    return EmbeddingModelMismatchError(
        f"{where} was built with embedding model {stored[0]!r} (dim {stored[1]}), but this "
        f"service uses {wanted[0]!r} (dim {wanted[1]}). Configure the original model, or "
        "index into a new collection/database and re-ingest the documents."
    )
