"""Routes document status events from NATS to the HTTP streams following them."""

import asyncio
import contextlib
from collections.abc import Iterator
from uuid import UUID

from faststream.nats import NatsRouter

from schemas import DocumentDeleted, DocumentStatus, DocumentStatusChanged
from schemas import subjects as s

_Key = tuple[str, UUID]


class StatusHub:
    """Fans ``document.status`` (and ``document.deleted``) out to local watchers.

    Every gateway replica subscribes on core NATS (no queue group, nothing to ack)
    and keeps only the events of documents one of its clients is following. Keys
    include the tenant, so an event can only reach a watcher of its own tenant.
    """

    def __init__(self) -> None:
        self._watchers: dict[_Key, set[asyncio.Queue[DocumentStatusChanged]]] = {}

    @contextlib.contextmanager
    def watch(
        self, tenant_id: str, document_id: UUID
    ) -> Iterator["asyncio.Queue[DocumentStatusChanged]"]:
        """Register a queue for the document's events; register before reading state."""
        queue: asyncio.Queue[DocumentStatusChanged] = asyncio.Queue()
        key = (tenant_id, document_id)
        self._watchers.setdefault(key, set()).add(queue)
        try:
            yield queue
        finally:
            queues = self._watchers.get(key)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._watchers[key]

    def deliver(self, event: DocumentStatusChanged) -> None:
        """Hand ``event`` to every watcher of its document on this replica."""
        for queue in self._watchers.get((event.tenant_id, event.document_id), ()):
            queue.put_nowait(event)

    def router(self) -> NatsRouter:
        """Core NATS subscriptions feeding :meth:`deliver`."""
        router = NatsRouter()
        # These subjects are JetStream's: a publisher's message carries a reply inbox
        # waiting for the stream's ack, so an auto-reply from here would answer it
        # with an empty body first (the publisher then fails parsing the "ack").

        @router.subscriber(s.every_tenant(s.DOCUMENT_STATUS), no_reply=True)
        async def on_status(event: DocumentStatusChanged) -> None:
            self.deliver(event)

        @router.subscriber(s.every_tenant(s.DOCUMENT_DELETED), no_reply=True)
        async def on_deleted(event: DocumentDeleted) -> None:
            # Deletes are announced as document.deleted only; present them as a status.
            self.deliver(
                DocumentStatusChanged(
                    tenant_id=event.tenant_id,
                    document_id=event.document_id,
                    status=DocumentStatus.DELETED,
                    occurred_at=event.occurred_at,
                )
            )

        return router
