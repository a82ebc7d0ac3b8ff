"""Composition root of retrieve_svc: settings, adapters and handlers wired once."""

import asyncio

from faststream.nats import NatsRouter

from ragbus.bus import EventPublisher
from ragbus.resources import Resources
from ragbus.runtime import run_services
from retrieve_svc.document_filters import DocumentFilters
from retrieve_svc.handlers import build_router
from retrieve_svc.requests import RetrieveRequests
from retrieve_svc.service import RetrieveService
from retrieve_svc.settings import RetrieveSettings


async def build(
    resources: Resources, publisher: EventPublisher, settings: RetrieveSettings | None = None
) -> NatsRouter:
    """Open what retrieve_svc needs (model, vector store) and return its router."""
    settings = settings or RetrieveSettings()
    reranker = settings.reranker()
    warm_up = getattr(reranker, "warm_up", None)  # a local model loads once, here
    if warm_up is not None:
        await asyncio.to_thread(warm_up)
    service = RetrieveService(
        await resources.documents(),
        await resources.vector_store(),
        await resources.embedder(),
        DocumentFilters(await resources.pool()),
        settings.retrieve_config(),
        reranker=reranker,
        expander=settings.expander(),
    )
    requests = RetrieveRequests(service, await resources.queries(), publisher)
    return build_router(requests, settings)


def main() -> None:
    """Run retrieve_svc alone against ``NATS_URL``, ``DATABASE_URL`` and the vector store."""
    asyncio.run(run_services([build], name="retrieve-svc"))
