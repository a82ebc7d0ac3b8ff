"""Upload a benchmark's documents, then wait for all to be final, recording times.

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
from schemas.documents import DocumentIndexed, DocumentStatusChanged

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


@contextlib.asynccontextmanager
async def status_events(nats_url: str | None) -> AsyncIterator[dict[str, dict[str, float]]]:
    """Collect each document's first ``occurred_at`` per status from NATS, while open.

    Yields:
        Document id -> status -> wall-clock seconds; stays empty without a NATS URL.
        ``document.indexed`` is recorded as status ``indexed``.
    """
    seen: dict[str, dict[str, float]] = {}
    if nats_url is None:
        yield seen
        return

    async def on_status(msg: Msg) -> None:
        event = DocumentStatusChanged.model_validate_json(msg.data)
        _first(seen, str(event.document_id), str(event.status), event.occurred_at)

    async def on_indexed(msg: Msg) -> None:
        event = DocumentIndexed.model_validate_json(msg.data)
        _first(seen, str(event.document_id), "indexed", event.indexed_at)

    conn = await nats.connect(nats_url)
    try:
        await conn.subscribe(subjects.every_tenant(subjects.DOCUMENT_STATUS), cb=on_status)
        await conn.subscribe(subjects.every_tenant(subjects.DOCUMENT_INDEXED), cb=on_indexed)
        yield seen
    finally:
        await conn.drain()


def _first(seen: dict[str, dict[str, float]], doc_id: str, status: str, at: datetime) -> None:
    seen.setdefault(doc_id, {}).setdefault(status, at.timestamp())
