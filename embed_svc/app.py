"""Composition root of embed_svc: settings, adapters and handlers wired once."""

import asyncio

from embed_svc.handlers import build_router
from embed_svc.model_lock import ModelLock
from embed_svc.pull_batches import PullBatches
from embed_svc.service import EmbedService
from embed_svc.settings import EmbedSettings
from embed_svc.texts_embedding import EmbeddingsApi
from ragbus.bus import EventPublisher
from ragbus.resources import Resources
from ragbus.runtime import ServiceParts, run_services


async def build(
    resources: Resources, publisher: EventPublisher, settings: EmbedSettings | None = None
) -> ServiceParts:
    """Open what embed_svc needs (model, vector store); return its router and lanes.

    The tenant lanes and ``texts.embed`` requests share one model, so they share
    one :class:`~embed_svc.model_lock.ModelLock` and take turns on it.
    """
    settings = settings or EmbedSettings()
    embedder = await resources.embedder()
    service = EmbedService(
        await resources.documents(), await resources.vector_store(), embedder, publisher
    )
    model_lock = ModelLock()
    pulls = PullBatches(service, model_lock, settings)
    return build_router(service, settings, pulls, EmbeddingsApi(embedder, model_lock))


def main() -> None:
    """Run embed_svc alone against ``NATS_URL``, ``DATABASE_URL`` and the vector store."""
    asyncio.run(run_services([build], name="embed-svc"))
