"""A document's progress as Server-Sent Events, from Postgres and ``document.status``.

The stream of ``GET /v1/documents/{id}/events`` (``gateway/routes/document_events.py``):
it opens with the document as Postgres has it (event ``document``, the JSON of
``GET /v1/documents/{id}``), then sends one ``status`` event per ``document.status``
NATS event of that document, and ends with ``end`` once the status is final
(``indexed``, ``failed`` or ``deleted``).
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sse_starlette import ServerSentEvent

from gateway.documents import document_json
from gateway.state import GatewayState
from ragbus.stores.documents import DocumentRecord
from schemas import DocumentStatus, DocumentStatusChanged, Progress

PING_S = 15.0
"""Heartbeat comment interval, so proxies keep an idle stream open."""
RESYNC_S = 15.0
"""After this long without an event, re-read Postgres: core NATS is at-most-once, so a
status message lost during a reconnect must not leave the stream waiting forever."""

FINAL = frozenset({DocumentStatus.INDEXED, DocumentStatus.FAILED, DocumentStatus.DELETED})
_RANK = {DocumentStatus.UPLOADED: 0, DocumentStatus.PARSING: 1, DocumentStatus.EMBEDDING: 2}


@dataclass
class ProgressGate:
    """Lets through only the updates that move a document forward.

    Events from different services (and the snapshot read from Postgres) can arrive
    out of order. Within one status a lower ``done`` is stale and dropped, as is an
    update that changes nothing; a status earlier in the lifecycle than the last one
    sent is dropped; on a status change the progress is kept from going backwards
    (``failed`` carries no progress of its own).
    """

    status: DocumentStatus | None = None
    done: int = 0
    total: int = 0
    error: str | None = None

    def admit(self, status: DocumentStatus, done: int, total: int, error: str | None) -> bool:
        """Whether to send this update; if so, it becomes the last one sent."""
        if self.status is not None:
            if _RANK.get(status, 3) < _RANK.get(self.status, 3):
                return False
            if status == self.status and (
                done < self.done or (done, total, error) == (self.done, self.total, self.error)
            ):
                return False
        if status != self.status:
            done, total = max(done, self.done), max(total, self.total)
        self.status, self.done, self.total, self.error = status, done, total, error
        return True

    def payload(self, document_id: uuid.UUID, occurred_at: datetime | None) -> dict[str, Any]:
        """The JSON of a ``status`` event for the last admitted update."""
        return {
            "id": str(document_id),
            "status": str(self.status),
            "progress": {"done": self.done, "total": self.total},
            "error": self.error,
            "occurred_at": occurred_at.isoformat() if occurred_at else None,
        }


async def status_events(
    state: GatewayState, tenant_id: str, document_id: uuid.UUID
) -> AsyncIterator[ServerSentEvent]:
    """The document's SSE events: ``document``, then ``status`` updates, then ``end``.

    Args:
        state: The gateway state (document rows, the status hub).
        tenant_id: The caller's tenant.
        document_id: The document, already known to exist.

    Yields:
        Server-Sent Events, until the status is final (``end`` carries it;
        ``deleted`` when the row disappeared).
    """
    gate = ProgressGate()
    # Subscribe before reading the snapshot: an event published in between is then
    # queued (and dropped by the gate if the snapshot already covers it).
    with state.statuses.watch(tenant_id, document_id) as queue:
        record = await state.documents.get(tenant_id, document_id)
        if record is None:  # removed since the 404 check
            yield _end(document_id, DocumentStatus.DELETED)
            return
        gate.admit(record.status, record.chunks_embedded, record.chunks_total, record.error)
        yield ServerSentEvent(json.dumps(document_json(record)), event="document")
        while gate.status not in FINAL:
            try:
                event = await asyncio.wait_for(queue.get(), RESYNC_S)
            except TimeoutError:
                record = await state.documents.get(tenant_id, document_id)
                event = _as_event(tenant_id, document_id, record)
            if gate.admit(event.status, event.progress.done, event.progress.total, event.error):
                body = gate.payload(document_id, event.occurred_at)
                yield ServerSentEvent(json.dumps(body), event="status")
        assert gate.status is not None
        yield _end(document_id, gate.status)


def _as_event(
    tenant_id: str, document_id: uuid.UUID, record: DocumentRecord | None
) -> DocumentStatusChanged:
    if record is None:
        return DocumentStatusChanged(
            tenant_id=tenant_id, document_id=document_id, status=DocumentStatus.DELETED
        )
    return DocumentStatusChanged(
        tenant_id=tenant_id,
        document_id=document_id,
        status=record.status,
        progress=Progress(done=record.chunks_embedded, total=record.chunks_total),
        error=record.error,
    )


def _end(document_id: uuid.UUID, status: DocumentStatus) -> ServerSentEvent:
    return ServerSentEvent(json.dumps({"id": str(document_id), "status": str(status)}), event="end")
