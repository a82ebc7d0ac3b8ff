"""Composition root of embed_svc: settings, adapters and handlers wired once."""

import asyncio

from embed_svc.handlers import build_router
from embed_svc.service import EmbedService
from embed_svc.settings import EmbedSettings
from embed_svc.tenant_lanes import Turns
from embed_svc.texts_embedding import EmbeddingsApi
from embed_svc.texts_embedding_handler import build_embeddings_router
from ragbus.bus import EventPublisher
from ragbus.resources import Resources
from ragbus.runtime import ServiceParts, run_services


async def build(
    resources: Resources, publisher: EventPublisher, settings: EmbedSettings | None = None
) -> ServiceParts:
    """Open what embed_svc needs (model, vector store); return its router and lanes.

    The tenant lanes and ``texts.embed`` requests share one model, so they share
    one :class:`~embed_svc.tenant_lanes.Turns` and take turns on it.
    """
    service = EmbedService(
        await resources.documents(),
        await resources.vector_store(),
        embedder := await resources.embedder(),
        publisher,
    )
    turns = Turns()
    parts = build_router(service, settings or EmbedSettings(), turns)
    parts.router.include_router(build_embeddings_router(EmbeddingsApi(embedder, turns)))
    return parts


def main() -> None:
    """Run embed_svc alone against ``NATS_URL``, ``DATABASE_URL`` and the vector store."""
    asyncio.run(run_services([build], name="embed-svc"))
