"""ingest_svc's NATS handlers: thin and typed; the ack policy is applied around them."""

from faststream.nats import NatsRouter

from deploy.jetstream import INGEST_DURABLE, consumer
from ingest_svc.service import IngestService
from ingest_svc.settings import IngestSettings
from ragbus.subscribers import jetstream_handler
from schemas import DeleteDocument, DocumentUploaded, RebuildIndex
from schemas import subjects as s


def build_router(service: IngestService, settings: IngestSettings) -> NatsRouter:
    """Subscribe ingest_svc to ``document.uploaded``, ``document.delete`` and ``index.rebuild``.

    Ack policy (manual, :func:`ragbus.subscribers.jetstream_handler`): ack after the
    chunks are published and the status committed; a permanent error marks the
    document failed, dead-letters the message and terms it; a transient one is
    retried in place, then nak'ed with backoff. Parsing sends ``in_progress`` every
    ``heartbeat_s``, so a slow PDF is not redelivered while its worker lives.
    """
    router = NatsRouter()
    uploads = consumer(
        INGEST_DURABLE,
        s.every_tenant(s.DOCUMENT_UPLOADED),
        ack_wait_s=settings.ack_wait_s,
        max_deliver=settings.max_deliver,
    )
    deletes = consumer("ingest-svc-delete", s.every_tenant(s.DOCUMENT_DELETE), ack_wait_s=30.0)
    rebuilds = consumer(
        "ingest-svc-index", s.every_tenant(s.INDEX_REBUILD), ack_wait_s=settings.ack_wait_s
    )

    @jetstream_handler(
        router,
        uploads,
        on_permanent=service.fail,
        heartbeat_s=settings.heartbeat_s,
        max_workers=settings.concurrency,
    )
    async def ingest_document(event: DocumentUploaded) -> None:
        await service.ingest(event)

    # The document row is already a tombstone: a failure here only leaves a blob.
    @jetstream_handler(router, deletes)
    async def delete_document_blob(command: DeleteDocument) -> None:
        await service.delete_blob(command)

    # Replays the tenant's documents into a building index version (publishes only).
    @jetstream_handler(router, rebuilds, heartbeat_s=settings.heartbeat_s)
    async def replay_index(command: RebuildIndex) -> None:
        if service.replay is not None:
            await service.replay.replay(command)

    return router
