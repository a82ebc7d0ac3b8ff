"""Retrieve logic: embed the question, search the tenant in one mode, keep visible.

A chunk is visible only at its document's searchable version (see
``DocumentRepository.visible_versions``): deleted documents, documents not indexed
yet, and versions that are not (or no longer) the searchable one are dropped, so a
query sees exactly one version of a document while a new one is being indexed.

Order of a retrieval: filters on upload metadata/time become a list of the tenant's
document ids (Postgres); the vector store searches within the tenant (always) and
those ids; invisible versions are dropped; ``min_score`` cuts; MMR, if asked, picks
``top_k`` diverse passages from a candidate set ``mmr_candidates`` times larger.

The index version searched is the tenant's active one, read once at the start of a
query (``IndexTargets.active``), so every search of a query reads one version, also
while a new one is being built or switched to.

A request's ``technique`` (see :mod:`retrieve_svc.techniques`) may first ask the LLM:
``multi_query`` searches the question and its rewrites and fuses the lists by RRF;
``hyde`` searches with the embedding of a drafted answer passage (and, in ``hybrid``,
BM25 on the question's own words: a drafted passage may invent exact terms, names or
numbers that BM25 would match literally, while its embedding carries the topic).
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from uuid import UUID

from ragbus.embedding import Embedder, Vectors
from ragbus.errors import PermanentError
from ragbus.index_targets import IndexTarget, IndexTargets, OneIndex
from ragbus.stores.documents import DocumentRepository
from ragbus.stores.vectors.base import Fusion, ScoredChunk, SearchMode, VectorStore, rrf_fuse
from ragbus.telemetry import stage
from retrieve_svc.document_filters import DocumentFilters
from retrieve_svc.query_expansion import QueryExpander
from retrieve_svc.question_vectors import QuestionVectors
from retrieve_svc.ranking import diverse, passage, reranked
from retrieve_svc.rerank import Reranker
from retrieve_svc.techniques import Plan, plan_for
from schemas import Passage, Timings
from schemas.embeddings import QuestionEmbedding
from schemas.queries import RetrievalFilters, RetrievalOptions


@dataclass(frozen=True)
class RetrieveConfig:
    """Tuning of :class:`RetrieveService` (see ``RetrieveSettings`` for each field)."""

    default_mode: SearchMode = "hybrid"
    overfetch: int = 10
    fusion: Fusion = field(default_factory=Fusion)
    cache_size: int = 1024
    mmr_candidates: int = 4
    rerank_candidates: int = 20
    multi_query_count: int = 3
    multi_query_rrf_k: int = 60
    multi_query_original_weight: float = 1.0


@dataclass
class _Query:
    tenant_id: str
    text: str
    mode: SearchMode
    vector: Vectors | None
    document_ids: list[UUID] | None
    with_vectors: bool
    fusion: Fusion
    store: VectorStore


class RetrieveService:
    """Finds the passages of one tenant that best answer a question.

    Args:
        documents: Tells which version of each document is visible (if any).
        vectors: The vector store; its ``search`` always filters by tenant.
        embedder: The same model that embedded the chunks (the store checks it).
        filters: Resolves metadata and upload-time filters to document ids.
        config: Default mode, fusion, overfetch, cache size, MMR and rerank candidates.
        reranker: Reorders the best candidates; ``None``: no reranking.
        expander: The LLM of ``multi_query`` and ``hyde``; ``None``: they are refused.
        targets: Each tenant's active index version, with its model and store;
            ``None``: ``vectors`` and ``embedder`` for every tenant.
    """

    def __init__(
        self,
        documents: DocumentRepository,
        vectors: VectorStore,
        embedder: Embedder,
        filters: DocumentFilters,
        config: RetrieveConfig | None = None,
        *,
        reranker: Reranker | None = None,
        expander: QueryExpander | None = None,
        targets: IndexTargets | None = None,
    ) -> None:
        self._reranker = reranker
        self._expander = expander
        self._embedder = embedder
        self._documents = documents
        self._vectors = vectors
        self._filters = filters
        self.config = config or RetrieveConfig()
        self.questions = QuestionVectors(embedder, self.config.cache_size)
        self.cache = self.questions.cache
        self._targets = targets or OneIndex(vectors, embedder)

    async def retrieve(
        self,
        tenant_id: str,
        question: str,
        top_k: int,
        options: RetrievalOptions | None = None,
    ) -> tuple[list[Passage], Timings]:
        """Top-k passages for ``question`` within ``tenant_id``, best first.

        Args:
            tenant_id: Owner; every search is filtered by it, whatever ``options`` say.
            question: The question text.
            top_k: Most passages returned.
            options: Technique, mode, grouping, filters, ``min_score``, rerank and MMR
                (all optional).

        Returns:
            The passages (score as the mode defines it, see ``ScoredChunk``; fused RRF
            for ``multi_query``; the reranker's relevance after reranking) and
            ``expand_ms``/``embed_ms``/``filter_ms``/``search_ms``/``rerank_ms``/
            ``retrieve_ms`` in milliseconds.

        Raises:
            PermanentError: The technique is unknown (``unknown_technique``), needs a
                missing LLM (``technique_unavailable``) or reranker
                (``rerank_unavailable``), contradicts ``mode``/``rerank``
                (``technique_conflict``), or the LLM failed (``llm_*``; an empty
                hyde draft is ``llm_empty_reply``).
            RetryableError: A store (or the reranker) is unreachable.
        """
        options = options or RetrievalOptions()
        plan = plan_for(
            options,
            default_mode=self.config.default_mode,
            reranker=self._reranker is not None,
            llm=self._expander is not None,
        )
        mmr = options.mmr_lambda is not None
        t0 = time.perf_counter()
        target = await self._targets.active(tenant_id)  # one version for the whole query
        queries = await self._expand(plan, question)  # (search text, text to embed)
        te = time.perf_counter()
        vectors: list[Vectors | None] = [None] * len(queries)
        if plan.mode != "sparse" or mmr:
            texts = [e for _, e in queries]
            with stage("embed_query", {"gen_ai.operation.name": "embeddings"}):
                vectors = await asyncio.to_thread(self._embed, plan, texts, target)
        t1 = time.perf_counter()
        ids = await self._restrict(tenant_id, options.filters)
        t2 = time.perf_counter()
        hits: list[ScoredChunk] = []
        if ids is None or ids:
            limit = top_k * self.config.mmr_candidates if mmr else top_k
            if plan.rerank:
                limit = max(limit, self.config.rerank_candidates)
            limit += self.config.overfetch
            fusion = self.config.fusion
            if options.group_by is not None:
                fusion = replace(fusion, group_by=options.group_by)
            searches = [
                _Query(tenant_id, text, plan.mode, vector, ids, mmr, fusion, target.store)
                for (text, _), vector in zip(queries, vectors, strict=True)
            ]
            lists = await asyncio.gather(*(self._search_visible(q, limit) for q in searches))
            hits = lists[0] if len(lists) == 1 else self._fuse(lists, limit)
        if options.min_score is not None:
            hits = [h for h in hits if h.score >= options.min_score]
        t3 = time.perf_counter()
        if plan.rerank and self._reranker is not None and hits:
            hits = await reranked(self._reranker, question, hits[: self.config.rerank_candidates])
        t4 = time.perf_counter()
        if mmr and hits:
            hits = diverse(hits, top_k, options.mmr_lambda or 0.0)
        t5 = time.perf_counter()
        timings = Timings(
            expand_ms=(te - t0) * 1000 if plan.expansion != "none" else None,
            embed_ms=(t1 - te) * 1000,
            filter_ms=(t2 - t1) * 1000,
            search_ms=(t3 - t2 + t5 - t4) * 1000,
            rerank_ms=(t4 - t3) * 1000 if plan.rerank else None,
            retrieve_ms=(t5 - t0) * 1000,
        )
        return [passage(hit) for hit in hits[:top_k]], timings

    async def _expand(self, plan: Plan, question: str) -> list[tuple[str, str]]:
        """``(text for BM25, text to embed)`` of each search: one, or the question first."""
        if plan.expansion == "none" or self._expander is None:
            return [(question, question)]
        if plan.expansion == "multi_query":
            rewrites = await self._expander.rewrite(question, self.config.multi_query_count)
            return [(q, q) for q in (question, *rewrites)]
        draft = await self._expander.draft(question)
        if not draft:  # searching the question instead would hide that hyde did nothing
            raise PermanentError("the LLM drafted no passage for hyde", code="llm_empty_reply")
        return [(question, draft)]

    def question_embedding(self, question: str) -> QuestionEmbedding | None:
        """The question's embedding if a search embedded it recently, else ``None``
        (see ``QuestionVectors.peek``)."""
        return self.questions.peek(question)

    def _embed(self, plan: Plan, texts: list[str], target: IndexTarget) -> list[Vectors | None]:
        """One query vector per text with the version's model (blocking). hyde's draft is
        embedded as a passage."""
        if plan.expansion == "hyde":
            return [target.embedder.embed_documents(texts)[0]]
        return self.questions.embed(texts, target.embedder)

    def _fuse(self, lists: Sequence[list[ScoredChunk]], limit: int) -> list[ScoredChunk]:
        """Weighted RRF of multi_query's lists; the original question's list is first."""
        weights = [self.config.multi_query_original_weight] + [1.0] * (len(lists) - 1)
        return rrf_fuse(lists, weights, k=self.config.multi_query_rrf_k, limit=limit)

    async def _restrict(
        self, tenant_id: str, filters: RetrievalFilters | None
    ) -> list[UUID] | None:
        """The document ids to search within, or ``None`` for all of the tenant's."""
        if filters is None:
            return None
        postgres = (filters.metadata, filters.uploaded_after, filters.uploaded_before)
        if all(value is None for value in postgres):  # the vector store filters ids itself
            return None if filters.document_ids is None else list(filters.document_ids)
        return await self._filters.matching(
            tenant_id,
            document_ids=filters.document_ids,
            metadata=filters.metadata,
            uploaded_after=filters.uploaded_after,
            uploaded_before=filters.uploaded_before,
        )

    async def _search(self, q: _Query, limit: int, ids: Sequence[UUID] | None) -> list[ScoredChunk]:
        attributes = {"db.operation.name": "search", "ragbus.search.mode": q.mode}
        with stage("vector_search", attributes) as span:
            hits = await q.store.search(
                tenant_id=q.tenant_id,
                vector=q.vector,
                top_k=limit,
                document_ids=ids,
                text=q.text,
                mode=q.mode,
                fusion=q.fusion,
                with_vectors=q.with_vectors,
            )
            span.set_attribute("db.response.returned_rows", len(hits))
        return hits

    async def _search_visible(self, q: _Query, limit: int) -> list[ScoredChunk]:
        """The hits at their document's searchable version, best first.

        The search runs before the versions are read, so a document whose new
        version became searchable in between has hits of the old version only; it is
        searched again on its own, so it is not missing from the result. That search
        takes twice as many candidates, as the old version's chunks may still be
        stored until embed_svc removes them.
        """
        hits = await self._search(q, limit, q.document_ids)
        if not hits:
            return []
        visible = await self._documents.visible_versions(
            q.tenant_id, list({h.chunk.document_id for h in hits})
        )
        kept = [h for h in hits if visible.get(h.chunk.document_id) == h.chunk.version]
        found = {h.chunk.document_id for h in kept}
        missed = [d for d in visible if d not in found]
        if missed:
            # Fused scores depend on the candidate lists, so a re-search's RRF scores
            # are not comparable with the first ones; it is rare (a version switch
            # during this query) and the order among such hits is best effort.
            again = await self._search(q, 2 * limit, missed)
            kept += [h for h in again if visible[h.chunk.document_id] == h.chunk.version]
            kept.sort(key=lambda h: h.score, reverse=True)
        return kept
