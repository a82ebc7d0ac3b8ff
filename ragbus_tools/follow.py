"""Following many uploaded documents to a final status: SSE where it pays, pages else."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import SSEError

from ragbus_tools.client import FINAL_STATUSES, RagbusClient

log = logging.getLogger(__name__)

MAX_STREAMS = 32
"""Most document event streams one follower keeps open: each is an HTTP connection
and a gateway task, so thousands at once would only cost without showing more."""
POLL_S = 1.0
LIST_PAGE = 1000


@dataclass
class DocumentOutcome:
    """What happened to one upload: its document's last known status and progress."""

    label: str
    status: str
    document_id: str | None = None
    done: int = 0
    total: int = 0
    error: str | None = None

    def apply(self, data: dict[str, Any]) -> None:
        """Take ``status``, ``progress`` and ``error`` from a document or status JSON."""
        self.status, self.error = data["status"], data.get("error")
        progress = data.get("progress") or {}
        self.done = max(self.done, progress.get("done") or 0)
        self.total = max(self.total, progress.get("total") or 0)


class DocumentFollower:
    """Follows many uploaded documents to a final status, live.

    Up to ``max_streams`` documents are followed at once through their SSE stream,
    in upload order. The stream opens with the stored state, so a document that
    waited for a slot loses nothing. Documents waiting for a slot (or whose stream
    broke) are refreshed in bulk from ``GET /v1/documents`` pages every ``poll_s``
    (one request per 1,000 documents instead of one stream each); one that is
    already final by then never needs a stream.

    Args:
        client: The gateway client.
        max_streams: Most SSE streams open at once.
        poll_s: Seconds between bulk refreshes.
        on_change: Called after every update of an outcome.
    """

    def __init__(
        self,
        client: RagbusClient,
        *,
        max_streams: int = MAX_STREAMS,
        poll_s: float = POLL_S,
        on_change: Callable[[DocumentOutcome], None] | None = None,
    ) -> None:
        self._client = client
        self._slots = asyncio.Semaphore(max_streams)
        self._poll_s = poll_s
        self._on_change = on_change or (lambda _: None)
        self._pending: dict[str, DocumentOutcome] = {}
        self._mode: dict[str, str] = {}  # queued | stream | poll
        self._tasks: set[asyncio.Task[None]] = set()
        self._added = 0
        self._settled = asyncio.Event()

    def add(self, outcome: DocumentOutcome) -> None:
        """Start following ``outcome``'s document (call from the running loop)."""
        doc_id = outcome.document_id
        if doc_id is None or outcome.status in FINAL_STATUSES or doc_id in self._pending:
            return
        self._pending[doc_id], self._mode[doc_id] = outcome, "queued"
        self._added += 1
        self._settled.clear()
        self._tasks.add(asyncio.create_task(self._stream(outcome)))

    async def run(self, uploads: Awaitable[object]) -> None:
        """Await ``uploads`` (which call :meth:`add`), then every document to be final.

        Cancel it (e.g. with a timeout) to stop; unfinished outcomes keep their last
        known status.
        """
        poller = asyncio.create_task(self._poll_loop())
        try:
            await uploads
            while self._pending:
                await self._settled.wait()
        finally:
            poller.cancel()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(poller, *self._tasks, return_exceptions=True)

    @property
    def pending(self) -> list[DocumentOutcome]:
        """The outcomes not final yet."""
        return list(self._pending.values())

    def _update(self, outcome: DocumentOutcome, data: dict[str, Any]) -> None:
        outcome.apply(data)
        self._on_change(outcome)
        if outcome.status in FINAL_STATUSES and outcome.document_id in self._pending:
            del self._pending[outcome.document_id]
            if not self._pending:
                self._settled.set()

    async def _stream(self, outcome: DocumentOutcome) -> None:
        doc_id = outcome.document_id or ""
        async with self._slots:
            if doc_id not in self._pending:
                return  # final by a bulk refresh while it waited
            self._mode[doc_id] = "stream"
            try:
                async for event, data in self._client.events(doc_id):
                    if event in ("document", "status"):
                        self._update(outcome, data)
            except (httpx.HTTPError, SSEError, ValueError) as exc:
                log.warning("event stream of %s broke (%s); polling it", doc_id, exc)
            self._mode[doc_id] = "poll"

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                await self._poll_once()
            except httpx.HTTPError as exc:
                log.warning("bulk refresh failed (%s); retrying", exc)

    async def _poll_once(self) -> None:
        waiting = {d for d in self._pending if self._mode[d] != "stream"}
        # This run's documents are the newest, so a few pages find them all.
        for page_no in range(self._added // LIST_PAGE + 2):
            if not waiting:
                return
            page = await self._client.documents(limit=LIST_PAGE, offset=page_no * LIST_PAGE)
            for doc in page:
                if doc["id"] in waiting and doc["id"] in self._pending:
                    waiting.discard(doc["id"])
                    self._update(self._pending[doc["id"]], doc)
            if len(page) < LIST_PAGE:
                break
        # Not listed (e.g. deleted) and its stream already broke: ask for it alone.
        for doc_id in waiting:
            if self._mode.get(doc_id) == "poll" and doc_id in self._pending:
                try:
                    doc = await self._client.document(doc_id)
                except httpx.HTTPStatusError as exc:
                    if exc.response.status_code != 404:
                        raise
                    doc = {"status": "failed", "error": "the document no longer exists"}
                self._update(self._pending[doc_id], doc)
