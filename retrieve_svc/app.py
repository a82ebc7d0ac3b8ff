"""Composition root of retrieve_svc: settings, adapters and handlers wired once."""

import asyncio

from faststream.nats import NatsRouter

from ragbus.bus import EventPublisher
from ragbus.index_targets import IndexVersions
from ragbus.llm.client import LlmClient
from ragbus.resources import Resources
from ragbus.runtime import run_services
from ragbus.stores.vector_indexes import VectorIndexes
from ragbus.stores.vectors.base import Fusion
from retrieve_svc.cross_encoder import CrossEncoderReranker
from retrieve_svc.document_filters import DocumentFilters
from retrieve_svc.handlers import build_router
from retrieve_svc.query_expansion import LiteLLMQueryExpander, QueryExpander
from retrieve_svc.requests import RetrieveRequests
from retrieve_svc.rerank import LiteLLMReranker, Reranker
from retrieve_svc.service import RetrieveConfig, RetrieveService
from retrieve_svc.settings import RetrieveSettings


def retrieve_config(settings: RetrieveSettings) -> RetrieveConfig:
    """The service's tuning from ``settings``."""
    fusion = Fusion(
        k=settings.rrf_k,
        dense_weight=settings.dense_weight,
        sparse_weight=settings.sparse_weight,
        candidates=settings.fusion_candidates,
        group_by=settings.group_by,
        decay=settings.fusion_decay,
        per_document=settings.passages_per_document,
        method=settings.fusion_method,
        alpha=settings.fusion_alpha,
    )
    return RetrieveConfig(
        default_mode=settings.default_mode,
        overfetch=settings.overfetch,
        fusion=fusion,
        cache_size=settings.cache_size,
        mmr_candidates=settings.mmr_candidates,
        rerank_candidates=settings.rerank_candidates,
        multi_query_count=settings.multi_query_count,
        multi_query_rrf_k=settings.multi_query_rrf_k,
        multi_query_original_weight=settings.multi_query_original_weight,
    )


def build_reranker(settings: RetrieveSettings) -> Reranker | None:
    """The configured reranker (not loaded yet), or ``None`` when none is set."""
    if settings.rerank_model_path is not None:
        return CrossEncoderReranker(
            settings.rerank_model_path,
            batch_size=settings.rerank_batch_size,
            threads=settings.rerank_threads,
        )
    if settings.rerank_model is None:
        return None
    key = settings.rerank_api_key.get_secret_value() if settings.rerank_api_key else None
    return LiteLLMReranker(settings.rerank_model, api_base=settings.rerank_api_base, api_key=key)


def build_expander(settings: RetrieveSettings) -> QueryExpander | None:
    """The LLM of ``multi_query`` and ``hyde``, or ``None`` when ``llm_model`` is unset."""
    if settings.llm_model is None:
        return None
    return LiteLLMQueryExpander(LlmClient.from_settings(settings))


async def build(
    resources: Resources, publisher: EventPublisher, settings: RetrieveSettings | None = None
) -> NatsRouter:
    """Open what retrieve_svc needs (model, vector store) and return its router."""
    settings = settings or RetrieveSettings()
    reranker = build_reranker(settings)
    warm_up = getattr(reranker, "warm_up", None)  # a local model loads once, here
    if warm_up is not None:
        await asyncio.to_thread(warm_up)
    embedder = await resources.embedder()
    await asyncio.to_thread(embedder.embed_query, "warm up")  # the question session loads
    service = RetrieveService(
        await resources.documents(),
        await resources.vector_store(),
        embedder,
        DocumentFilters(await resources.pool()),
        retrieve_config(settings),
        reranker=reranker,
        expander=build_expander(settings),
        targets=IndexVersions(resources, VectorIndexes(await resources.pool())),
    )
    requests = RetrieveRequests(service, await resources.queries(), publisher)
    return build_router(requests, settings)


def main() -> None:
    """Run retrieve_svc alone against ``NATS_URL``, ``DATABASE_URL`` and the vector store."""
    asyncio.run(run_services([build], name="retrieve-svc"))
