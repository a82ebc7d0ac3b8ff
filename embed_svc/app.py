"""Composition root of embed_svc: settings, adapters and handlers wired once."""

import asyncio
from dataclasses import replace

from embed_svc.handlers import build_router
from embed_svc.index_builds import IndexBuilds
from embed_svc.index_keeper import IndexKeeper
from embed_svc.model_lock import ModelLock
from embed_svc.pull_batches import PullBatches
from embed_svc.service import EmbedService
from embed_svc.settings import EmbedSettings
from embed_svc.texts_embedding import EmbeddingsApi
from ragbus.bus import EventPublisher
from ragbus.index_targets import IndexVersions
from ragbus.resources import Resources
from ragbus.runtime import ServiceParts, run_services
from ragbus.stores.index_rebuilds import IndexRebuilds
from ragbus.stores.vector_indexes import VectorIndexes


async def build(
    resources: Resources, publisher: EventPublisher, settings: EmbedSettings | None = None
) -> ServiceParts:
    """Open what embed_svc needs (model, vector store); return its router and lanes.

    The tenant lanes and ``texts.embed`` requests share one model, so they share
    one :class:`~embed_svc.model_lock.ModelLock` and take turns on it. The index
    versions' keeper runs while the broker does.
    """
    settings = settings or EmbedSettings()
    embedder = await resources.embedder()
    documents, pool = await resources.documents(), await resources.pool()
    indexes = VectorIndexes(pool)
    targets = IndexVersions(resources, indexes)
    builds = IndexBuilds(documents, targets, indexes, IndexRebuilds(pool), publisher)
    vectors = await resources.vector_store()
    service = EmbedService(documents, vectors, embedder, publisher, targets=targets, builds=builds)
    model_lock = ModelLock()
    pulls = PullBatches(service, model_lock, settings)
    parts = build_router(service, settings, pulls, EmbeddingsApi(embedder, model_lock))
    if settings.index_keeper_s <= 0:
        return parts
    keeper = IndexKeeper(
        builds, publisher, interval_s=settings.index_keeper_s, grace_s=settings.index_grace_s
    )
    return replace(
        parts,
        on_start=[*parts.on_start, keeper.start],
        on_stop=[keeper.stop, *parts.on_stop],
    )


def main() -> None:
    """Run embed_svc alone against ``NATS_URL``, ``DATABASE_URL`` and the vector store."""
    asyncio.run(run_services([build], name="embed-svc"))
