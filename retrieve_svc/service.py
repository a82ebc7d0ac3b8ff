"""Retrieve logic: embed the question, top-k dense search in the tenant, drop deleted."""

import asyncio
import time
from collections.abc import Sequence

from ragbus.embedding import Embedder
from ragbus.stores.documents import DocumentRepository
from ragbus.stores.vectors.base import ScoredChunk, VectorStore
from schemas import Passage, Timings


class RetrieveService:
    """Finds the passages of one tenant most similar to a question.

    Args:
        documents: Used to drop chunks of documents deleted after they were indexed.
        vectors: The vector store; its ``search`` always filters by tenant.
        embedder: The same model that embedded the chunks (the store checks it).
        overfetch: Extra candidates beyond ``top_k`` (see ``RetrieveSettings``).
    """

    def __init__(
        self,
        documents: DocumentRepository,
        vectors: VectorStore,
        embedder: Embedder,
        *,
        overfetch: int = 10,
    ) -> None:
        self._documents = documents
        self._vectors = vectors
        self._embedder = embedder
        self._overfetch = overfetch

    async def retrieve(
        self, tenant_id: str, question: str, top_k: int
    ) -> tuple[list[Passage], Timings]:
        """Top-k passages for ``question`` within ``tenant_id``, best first.

        Returns:
            The passages (score = cosine similarity) and ``embed_ms``/``search_ms``/
            ``retrieve_ms`` timings in milliseconds.
        """
        t0 = time.perf_counter()
        vector = await asyncio.to_thread(self._embedder.embed_query, question)
        t1 = time.perf_counter()
        hits = await self._vectors.search(
            tenant_id=tenant_id, vector=vector, top_k=top_k + self._overfetch
        )
        hits = await self._drop_deleted(tenant_id, hits)
        t2 = time.perf_counter()
        passages = [_passage(hit) for hit in hits[:top_k]]
        timings = Timings(
            embed_ms=(t1 - t0) * 1000, search_ms=(t2 - t1) * 1000, retrieve_ms=(t2 - t0) * 1000
        )
        return passages, timings

    async def _drop_deleted(self, tenant_id: str, hits: Sequence[ScoredChunk]) -> list[ScoredChunk]:
        if not hits:
            return []
        gone = await self._documents.deleted_among(
            tenant_id, list({h.chunk.document_id for h in hits})
        )
        return [h for h in hits if h.chunk.document_id not in gone]


def _passage(hit: ScoredChunk) -> Passage:
    c = hit.chunk
    return Passage(
        chunk_id=c.chunk_id,
        document_id=c.document_id,
        filename=c.filename,
        title=c.title,
        text=c.text,
        score=hit.score,
        page=c.page,
        heading=c.heading,
        chunk_index=c.chunk_index,
    )
