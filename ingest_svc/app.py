"""Composition root of ingest_svc: settings, adapters and handlers wired once."""

import asyncio

from faststream.nats import NatsRouter

from ingest_svc.handlers import build_router
from ingest_svc.service import IngestService
from ingest_svc.settings import IngestSettings
from ragbus.bus import EventPublisher
from ragbus.resources import Resources
from ragbus.runtime import run_services


async def build(
    resources: Resources, publisher: EventPublisher, settings: IngestSettings | None = None
) -> NatsRouter:
    """Open what ingest_svc needs and return its router."""
    settings = settings or IngestSettings()
    service = IngestService(
        await resources.documents(),
        await resources.blob_store(),
        await resources.embedder(),
        publisher,
        overlap_tokens=settings.overlap_tokens,
        max_document_bytes=settings.max_document_bytes,
    )
    return build_router(service, settings)


def main() -> None:
    """Run ingest_svc alone against ``NATS_URL`` and ``DATABASE_URL``."""
    asyncio.run(run_services([build], name="ingest-svc"))
