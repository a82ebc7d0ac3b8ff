"""Upload a benchmark's documents, then wait for all to be final, recording times.

``ragbus bench ingest`` learns that a document is final from its ``document.indexed``
or ``document.failed`` event on NATS (:func:`wait_final_events`), so waiting costs
the pipeline nothing; ``ragbus bench query``, which has only a URL, polls the
gateway (:func:`wait_final`).

Times are wall-clock (``time.time()``), as are the server's ``indexed_at`` and event
``occurred_at``; client and services run on the same machine, so they share a clock.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nats
from nats.aio.msg import Msg

from ragbus_tools.bench.corpus import BenchDocument
from ragbus_tools.client import FINAL_STATUSES, RagbusClient
from schemas import subjects
from schemas.documents import DocumentFailed, DocumentIndexed, DocumentStatusChanged

PAGE = 1000


@dataclass
class Upload:
    """One uploaded document and what happened to it.

    Attributes:
        sent_at: Wall-clock seconds when the upload request was sent.
        document: The last ``GET /v1/documents`` JSON of the document.
        duplicate: The gateway found the same bytes already uploaded; not timed.
        first_status_at: Status -> wall-clock seconds of its first ``document.status``.
    """

    doc: BenchDocument
    sent_at: float
    document: dict[str, Any]
    duplicate: bool = False
    first_status_at: dict[str, float] = field(default_factory=dict)

    @property
    def indexed_at(self) -> float | None:
        """Wall-clock seconds when the document became searchable, from ``indexed_at``."""
        raw = self.document.get("indexed_at")
        return datetime.fromisoformat(raw).timestamp() if raw else None


async def upload_all(
    client: RagbusClient, documents: list[BenchDocument], concurrency: int = 4
) -> list[Upload]:
    """Upload every document, ``concurrency`` requests at once (as ``ragbus ingest`` does)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(doc: BenchDocument) -> Upload:
        async with gate:
            sent = time.time()
            entry = await client.upload_bytes(doc.filename, doc.data, doc.metadata or None)
            return Upload(doc, sent, entry, duplicate=bool(entry.get("duplicate")))

    return list(await asyncio.gather(*(one(d) for d in documents)))


async def wait_final(
    client: RagbusClient, uploads: list[Upload], timeout_s: float, poll_s: float = 1.0
) -> None:
    """Refresh every upload's document from ``GET /v1/documents`` pages until all are final.

    Raises:
        TimeoutError: some document is not final after ``timeout_s`` seconds.
    """
    by_id = {u.document["id"]: u for u in uploads if not u.duplicate}
    deadline = time.monotonic() + timeout_s
    while True:
        pending = {i for i, u in by_id.items() if u.document["status"] not in FINAL_STATUSES}
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} documents not final after {timeout_s} s")
        await asyncio.sleep(poll_s)
        offset = 0
        while page := await client.documents(limit=PAGE, offset=offset):
            for doc in page:
                if doc["id"] in by_id:
                    by_id[doc["id"]].document = doc
            offset += len(page)
            if len(page) < PAGE:
                break


@dataclass
class DocumentEvents:
    """What ``document.*`` events said about each document, collected while open.

    Attributes:
        first_status_at: Document id -> status -> wall-clock seconds of its first
            ``document.status`` event (``document.indexed`` counts as ``indexed``).
        final: Document id -> ``{"id", "status", "chunks", "indexed_at", "error_code"}``
            from its first ``document.indexed`` or ``document.failed`` event.
    """

    first_status_at: dict[str, dict[str, float]] = field(default_factory=dict)
    final: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_status(self, event: DocumentStatusChanged) -> None:
        """Record a ``document.status`` event."""
        _first(self.first_status_at, str(event.document_id), str(event.status), event.occurred_at)

    def on_indexed(self, event: DocumentIndexed) -> None:
        """Record a ``document.indexed`` event: the document is final."""
        doc_id = str(event.document_id)
        _first(self.first_status_at, doc_id, "indexed", event.indexed_at)
        self.final.setdefault(
            doc_id,
            {"id": doc_id, "status": "indexed", "chunks": event.chunks,
             "indexed_at": event.indexed_at.isoformat()},
        )  # fmt: skip
        self.changed.set()

    def on_failed(self, event: DocumentFailed) -> None:
        """Record a ``document.failed`` event: the document is final."""
        doc_id = str(event.document_id)
        self.final.setdefault(
            doc_id, {"id": doc_id, "status": "failed", "chunks": 0, "error_code": event.code}
        )
        self.changed.set()


async def wait_final_events(
    events: DocumentEvents, uploads: list[Upload], timeout_s: float
) -> None:
    """Wait until every upload's document was announced indexed or failed on NATS.

    Each upload's ``document`` becomes its final entry (see :class:`DocumentEvents`);
    duplicates are not waited for. Nothing polls the gateway, so the wait costs the
    pipeline nothing.

    Raises:
        TimeoutError: some document is not final after ``timeout_s`` seconds.
    """
    waiting = {u.document["id"]: u for u in uploads if not u.duplicate}
    deadline = time.monotonic() + timeout_s
    while True:
        for doc_id in [i for i in waiting if i in events.final]:
            upload = waiting.pop(doc_id)
            upload.document = {**upload.document, **events.final[doc_id]}
        if not waiting:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{len(waiting)} documents not final after {timeout_s} s")
        events.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(events.changed.wait(), min(left, 1.0))


@contextlib.asynccontextmanager
async def document_events(nats_url: str | None) -> AsyncIterator[DocumentEvents]:
    """Collect ``document.status``, ``document.indexed`` and ``document.failed`` of
    every tenant from NATS (as the admin of ``nats_url``) while open.

    Yields:
        The collector; it stays empty without a NATS URL.
    """
    seen = DocumentEvents()
    if nats_url is None:
        yield seen
        return

    async def on_status(msg: Msg) -> None:
        seen.on_status(DocumentStatusChanged.model_validate_json(msg.data))

    async def on_indexed(msg: Msg) -> None:
        seen.on_indexed(DocumentIndexed.model_validate_json(msg.data))

    async def on_failed(msg: Msg) -> None:
        seen.on_failed(DocumentFailed.model_validate_json(msg.data))

    conn = await nats.connect(nats_url)
    try:
        await conn.subscribe(subjects.every_tenant(subjects.DOCUMENT_STATUS), cb=on_status)
        await conn.subscribe(subjects.every_tenant(subjects.DOCUMENT_INDEXED), cb=on_indexed)
        await conn.subscribe(subjects.every_tenant(subjects.DOCUMENT_FAILED), cb=on_failed)
        await conn.flush()  # subscribed on the server before the first upload
        yield seen
    finally:
        await conn.drain()


def _first(seen: dict[str, dict[str, float]], doc_id: str, status: str, at: datetime) -> None:
    seen.setdefault(doc_id, {}).setdefault(status, at.timestamp())
