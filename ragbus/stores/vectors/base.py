"""The vector store port: tenant-scoped upsert, search and delete of chunk embeddings."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
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
    """A search hit; ``score`` is cosine similarity in [-1, 1], higher is closer."""

    chunk: ChunkRecord
    score: float


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

    async def upsert(self, chunks: Sequence[ChunkRecord], vectors: npt.NDArray[np.float32]) -> None:
        """Insert or replace chunks by ``chunk_id``; repeating it changes nothing.

        Args:
            chunks: The chunks, any tenants.
            vectors: ``(len(chunks), dim)`` float32, row ``i`` embeds ``chunks[i]``.

        Raises:
            ValueError: Shapes disagree or a chunk has no tenant.
        """
        ...

    async def search(
        self,
        *,
        tenant_id: str,
        vector: npt.NDArray[np.float32],
        top_k: int,
        document_ids: Sequence[UUID] | None = None,
    ) -> list[ScoredChunk]:
        """The ``top_k`` chunks of ``tenant_id`` closest to ``vector`` (shape ``(dim,)``).

        ``document_ids`` restricts the search to those documents (empty -> ``[]``).
        """
        ...

    async def delete_document(
        self, *, tenant_id: str, document_id: UUID, keep_version: int | None = None
    ) -> None:
        """Remove a document's chunks, or only those of versions other than ``keep_version``."""
        ...

    async def count(self, *, tenant_id: str, document_id: UUID | None = None) -> int:
        """Chunks stored for the tenant, or for one of its documents."""
        ...

    async def close(self) -> None:
        """Release connections; the store cannot be used afterwards."""
        ...


def require_tenant(tenant_id: str) -> str:
    """Return ``tenant_id`` or raise ``ValueError`` if it is empty or not a string."""
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ValueError("tenant_id is required and must be a non-empty string")
    return tenant_id


def check_batch(
    chunks: Sequence[ChunkRecord], vectors: npt.NDArray[np.float32], dim: int
) -> npt.NDArray[np.float32]:
    """Validate an upsert batch; returns ``vectors`` as a C-contiguous float32 matrix.

    Raises:
        ValueError: ``vectors`` is not ``(len(chunks), dim)`` or a chunk lacks a tenant.
    """
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape != (len(chunks), dim):
        raise ValueError(f"vectors have shape {matrix.shape}; expected ({len(chunks)}, {dim})")
    for chunk in chunks:
        require_tenant(chunk.tenant_id)
    return matrix


def check_query(vector: npt.NDArray[np.float32], dim: int, top_k: int) -> npt.NDArray[np.float32]:
    """Validate a query vector of shape ``(dim,)`` (or ``(1, dim)``); returns it flat.

    Raises:
        ValueError: Wrong shape or ``top_k`` below 1.
    """
    flat = np.asarray(vector, dtype=np.float32).reshape(-1)
    if flat.shape != (dim,):
        raise ValueError(f"query vector has {flat.size} values; expected {dim}")
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    return flat


def mismatch(where: str, *, stored: tuple[str, int], wanted: tuple[str, int]) -> Exception:
    """The error for an index built with another model: names both models and dims."""
    return EmbeddingModelMismatchError(
        f"{where} was built with embedding model {stored[0]!r} (dim {stored[1]}), but this "
        f"service uses {wanted[0]!r} (dim {wanted[1]}). Configure the original model, or "
        "index into a new collection/database and re-ingest the documents."
    )
