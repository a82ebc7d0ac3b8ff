"""Composition root of ingest_svc: settings, adapters and handlers wired once."""

import asyncio

from faststream.nats import NatsRouter

from ingest_svc.backlog import JetStreamBacklog
from ingest_svc.handlers import build_router
from ingest_svc.orphan_blobs import OrphanBlobs
from ingest_svc.service import IngestService
from ingest_svc.settings import IngestSettings
from ingest_svc.sweeper import Sweeper
from ragbus.bus import EventPublisher
from ragbus.index_targets import IndexVersions
from ragbus.resources import Resources
from ragbus.runtime import run_services
from ragbus.stores.chunk_quotas import ChunkLimits, ChunkQuotas, ChunkQuotaSettings
from ragbus.stores.index_rebuilds import IndexRebuilds
from ragbus.stores.vector_indexes import VectorIndexes


async def build(
    resources: Resources, publisher: EventPublisher, settings: IngestSettings | None = None
) -> NatsRouter:
    """Open what ingest_svc needs, start its sweeper and return its router.

    The sweeper's lifetime is the Postgres pool's: the runtime drains the broker,
    then closes ``resources``, and the sweeper ends within a second of the pool
    closing (after finishing a sweep in progress). FastStream 0.7 routers and
    brokers have no start/stop hooks, and service builders return only a router.
    """
    settings = settings or IngestSettings()
    documents = await resources.documents()
    blobs = await resources.blob_store()
    indexes = VectorIndexes(await resources.pool())
    service = IngestService(
        documents,
        blobs,
        await resources.embedder(),
        publisher,
        overlap_tokens=settings.overlap_tokens,
        window_tokens=settings.dense_window_tokens,
        max_document_bytes=settings.max_document_bytes,
        chunk_quotas=ChunkQuotas(
            await resources.pool(), ChunkLimits(**ChunkQuotaSettings().model_dump())
        ),
        targets=IndexVersions(resources, indexes),
        indexes=indexes,
        rebuilds=IndexRebuilds(await resources.pool()),
    )
    if settings.sweep_interval_s > 0 and settings.stale_after_s > 0:
        Sweeper(
            await resources.pool(),
            documents,
            publisher,
            interval_s=settings.sweep_interval_s,
            stale_after_s=settings.stale_after_s,
            backlog=JetStreamBacklog(publisher.jetstream),
            orphans=OrphanBlobs(await resources.pool(), blobs),
        ).start()
    return build_router(service, settings)


def main() -> None:
    """Run ingest_svc alone against ``NATS_URL`` and ``DATABASE_URL``."""
    asyncio.run(run_services([build], name="ingest-svc"))
