"""ingest_svc's NATS handlers: thin, typed, with a declared ack policy."""

from faststream.nats import NatsMessage, NatsRouter

from deploy.jetstream import consumer
from ingest_svc.service import IngestService
from ingest_svc.settings import IngestSettings
from ragbus.bus import heartbeat, jetstream_subscriber, record_nothing, settle
from ragbus.errors import PermanentError
from schemas import DeleteDocument, DocumentUploaded
from schemas import subjects as s


def build_router(service: IngestService, settings: IngestSettings) -> NatsRouter:
    """Subscribe ingest_svc to ``document.uploaded`` and ``document.delete``.

    Ack policy (manual, see ``ragbus.bus.settle``): ack after chunks are published and
    the status committed; permanent errors mark the document failed, then term;
    transient ones nak with backoff. Parsing sends ``in_progress`` every
    ``heartbeat_s`` so a slow PDF is not redelivered while its worker lives.
    """
    router = NatsRouter()
    uploads = consumer(
        "ingest-svc",
        s.DOCUMENT_UPLOADED,
        ack_wait_s=settings.ack_wait_s,
        max_deliver=settings.max_deliver,
    )
    deletes = consumer("ingest-svc-delete", s.DOCUMENT_DELETE, ack_wait_s=30.0)

    @jetstream_subscriber(router, uploads, max_workers=settings.concurrency)
    async def ingest_document(event: DocumentUploaded, msg: NatsMessage) -> None:
        async def on_permanent(exc: PermanentError) -> None:
            await service.fail(event, exc)

        async with heartbeat([msg.raw_message], settings.heartbeat_s):
            await settle(
                msg.raw_message,
                lambda: service.ingest(event),
                max_deliver=uploads.max_deliver,
                on_permanent=on_permanent,
            )

    @jetstream_subscriber(router, deletes)
    async def delete_document_blob(command: DeleteDocument, msg: NatsMessage) -> None:
        # The document row is already a tombstone: a failure here only leaves a blob.
        await settle(
            msg.raw_message,
            lambda: service.delete_blob(command),
            max_deliver=deletes.max_deliver,
            on_permanent=record_nothing,
        )

    return router
