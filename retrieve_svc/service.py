"""Retrieve logic: embed the question, top-k dense search in the tenant, keep visible.

A chunk is visible only at its document's searchable version (see
``DocumentRepository.visible_versions``): deleted documents, documents not indexed
yet, and versions that are not (or no longer) the searchable one are dropped, so a
query sees exactly one version of a document while a new one is being indexed.
"""

import asyncio
import time
from collections.abc import Sequence

from ragbus.embedding import Embedder, Vectors
from ragbus.stores.documents import DocumentRepository
from ragbus.stores.vectors.base import ScoredChunk, VectorStore
from schemas import Passage, Timings


class RetrieveService:
    """Finds the passages of one tenant most similar to a question.

    Args:
        documents: Tells which version of each document is visible (if any).
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
        hits = await self._keep_visible(tenant_id, vector, hits, top_k + self._overfetch)
        t2 = time.perf_counter()
        passages = [_passage(hit) for hit in hits[:top_k]]
        timings = Timings(
            embed_ms=(t1 - t0) * 1000, search_ms=(t2 - t1) * 1000, retrieve_ms=(t2 - t0) * 1000
        )
        return passages, timings

    async def _keep_visible(
        self,
        tenant_id: str,
        vector: Vectors,
        hits: Sequence[ScoredChunk],
        limit: int,
    ) -> list[ScoredChunk]:
        """The hits at their document's searchable version, best first.

        The search runs before the versions are read, so a document whose new
        version became searchable in between has hits of the old version only; it is
        searched again on its own, so it is not missing from the result. That search
        takes twice as many candidates, as the old version's chunks may still be
        stored until embed_svc removes them.
        """
        if not hits:
            return []
        visible = await self._documents.visible_versions(
            tenant_id, list({h.chunk.document_id for h in hits})
        )
        kept = [h for h in hits if visible.get(h.chunk.document_id) == h.chunk.version]
        found = {h.chunk.document_id for h in kept}
        missed = [d for d in visible if d not in found]
        if missed:
            again = await self._vectors.search(
                tenant_id=tenant_id, vector=vector, top_k=2 * limit, document_ids=missed
            )
            kept += [h for h in again if visible[h.chunk.document_id] == h.chunk.version]
            kept.sort(key=lambda h: h.score, reverse=True)
        return kept


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
