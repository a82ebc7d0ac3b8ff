"""The reconciler: re-publish documents whose work stopped, so none stays in progress.

JetStream redelivers a message whose worker died, but some losses happen outside a
message's life: the gateway may die between committing the ``uploaded`` row and
publishing ``document.uploaded``, a stream may be purged or lose its tail, a
consumer may reach ``max_deliver`` while Postgres is down. The sweeper closes those
gaps. Every ``interval_s`` it looks for documents in ``uploaded``, ``parsing`` or
``embedding`` whose ``updated_at`` is older than ``stale_after_s`` and publishes
``document.uploaded`` for them again, rebuilt from the row. ingest_svc handles that
event idempotently in all three statuses (``uploaded`` and ``parsing`` parse;
``embedding`` re-publishes the batches, which embed_svc counts once), so the
re-publish finishes the work. The row's ``updated_at`` is then touched so the next
re-publish waits another period.

A row without ``blob_key`` came from an ``inline_text`` event, whose text was never
stored: it cannot be re-published, so it is marked failed (``lost_inline_upload``).
A row in ``uploaded`` that was never enqueued is an upload that got no ``2xx`` (its
enqueue failed, or the gateway died first) and that no retry reused: nobody holds
its id, so it is deleted ("abandoned") instead, and its blob goes with the next
sweep of orphan blobs (:mod:`ingest_svc.orphan_blobs`).

``stale_after_s`` (300 s) exceeds the streams' two-minute duplicate window, so the
re-publish is not swallowed as a duplicate, and the ack wait, so a live worker
(which heartbeats) is not raced. Work still queued behind a long backlog is not
re-published: while the queue that would carry it is not empty
(:mod:`ingest_svc.backlog`), the document is left for a later round ("deferred").

Each replica of ingest_svc runs a sweeper; ``pg_try_advisory_lock`` lets one sweep
at a time and the others skip that round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import asyncpg

from ingest_svc.backlog import Backlog
from ingest_svc.orphan_blobs import OrphanBlobs
from ragbus.bus import Publisher
from ragbus.document_lifecycle import DocumentLifecycle, upload_event
from ragbus.errors import PermanentError
from ragbus.stores.documents import DocumentRecord, DocumentRepository
from schemas import subjects as s

log = logging.getLogger(__name__)

SWEEP_LOCK_KEY = 0x7261_6762_7573_0002
"""Advisory lock held while sweeping ("ragbus" + 2; the migrator uses "ragbus")."""

MAX_ROWS_PER_SWEEP = 500
"""Rows handled per sweep, oldest first; the rest wait for the next round."""

STOP_CHECK_S = 1.0
"""Longest sleep between checks whether the pool closed or :meth:`Sweeper.stop` ran."""

_BACKGROUND: set[asyncio.Task[None]] = set()

# Maintenance query across tenants (the only one in ragbus): the repository's
# methods are tenant-scoped by design, and a reconciler must see every tenant.
# No index covers it; one scan of ``documents`` per interval is cheap next to the
# work it rescues.
_STALE_ROWS = """
    SELECT * FROM documents
    WHERE status IN ('uploaded', 'parsing', 'embedding')
      AND updated_at < now() - make_interval(secs => $1)
    ORDER BY updated_at
    LIMIT $2
"""
# Touch only if nobody moved the row since it was read.
_TOUCH = """
    UPDATE documents SET updated_at = now()
    WHERE tenant_id = $1 AND id = $2 AND status = $3 AND updated_at = $4
"""


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one sweep did.

    Attributes:
        locked: Whether this replica held the lock (False: another one swept).
        republished: Documents whose ``document.uploaded`` was published again.
        lost: Inline documents marked failed with ``lost_inline_upload``.
        abandoned: Rows of uploads never enqueued, deleted.
        errors: Rows skipped because publishing or recording failed.
        deferred: Stale rows whose work may still be queued, left for a later round.
    """

    locked: bool
    republished: int = 0
    lost: int = 0
    abandoned: int = 0
    errors: int = 0
    deferred: int = 0


class Sweeper:
    """Periodically re-publishes stale in-progress documents (see the module docstring).

    Args:
        pool: Postgres pool holding ``documents``.
        documents: Repository used to mark lost inline uploads failed.
        publisher: Publishes ``document.uploaded`` and ``document.failed``.
        interval_s: Seconds between sweeps.
        stale_after_s: A document untouched for longer is re-published.
        backlog: Asked before each rescue whether the work may still be queued;
            ``None`` rescues every stale row.
        orphans: Deletes blobs without a row after each round (when due).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        documents: DocumentRepository,
        publisher: Publisher,
        *,
        interval_s: float = 30.0,
        stale_after_s: float = 300.0,
        backlog: Backlog | None = None,
        orphans: OrphanBlobs | None = None,
    ) -> None:
        self._backlog = backlog
        self._orphans = orphans
        self._pool = pool
        self._publisher = publisher
        self._documents = documents
        self._lifecycle = DocumentLifecycle(documents, publisher)
        self._interval_s = interval_s
        self._stale_after_s = stale_after_s
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def sweep_once(self) -> SweepReport:
        """Run one sweep if no other replica is sweeping.

        Raises:
            asyncpg.PostgresError, OSError: Postgres is unreachable.
        """
        async with self._pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", SWEEP_LOCK_KEY):
                return SweepReport(locked=False)
            try:
                rows = await conn.fetch(_STALE_ROWS, self._stale_after_s, MAX_ROWS_PER_SWEEP)
                counts = dict.fromkeys(
                    ("republished", "lost", "abandoned", "errors", "deferred"), 0
                )
                if rows and self._backlog is not None:
                    await self._backlog.refresh()
                for row in rows:
                    record = DocumentRecord.from_row(row)
                    if self._backlog is not None and self._backlog.may_hold(record):
                        counts["deferred"] += 1
                        continue
                    outcome = await self._rescue(conn, record)
                    counts[outcome] += 1
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", SWEEP_LOCK_KEY)
        if rows:
            log.warning("swept stale documents", extra={"stale": len(rows), **counts})
        return SweepReport(locked=True, **counts)

    async def _rescue(self, conn: asyncpg.Connection, record: DocumentRecord) -> str:
        extra = {"document_id": str(record.id), "status": str(record.status)}
        try:
            if record.status == "uploaded" and record.enqueued_version is None:
                await self._documents.delete_abandoned(record.tenant_id, record.id)
                return "abandoned"
            if record.blob_key is None:
                await self._lifecycle.fail(
                    record.tenant_id,
                    record.id,
                    PermanentError(
                        f"{record.filename}: the upload's text was sent inline and its"
                        f" processing stopped in {record.status!s}; it was never stored,"
                        " so it cannot be retried: upload it again",
                        code="lost_inline_upload",
                    ),
                )
                return "lost"
            assert record.updated_at is not None  # NOT NULL column
            event = upload_event(record)
            # Publish first, touch second: a crash in between re-publishes next round.
            msg_id = f"{record.id}:{record.version}:sweep:{record.updated_at.timestamp():.6f}"
            await self._publisher.publish(event, s.DOCUMENT_UPLOADED, msg_id=msg_id)
            await conn.execute(
                _TOUCH, record.tenant_id, record.id, str(record.status), record.updated_at
            )
        except Exception:  # one bad row must not stop the sweep of the others
            log.exception("could not rescue stale document", extra=extra)
            return "errors"
        log.info("re-published stale document", extra=extra)
        return "republished"

    async def run(self) -> None:
        """Sweep every ``interval_s`` until :meth:`stop` or the pool closes.

        The first sweep comes one interval after the start: services are built
        before their broker connects, so publishing at once would fail.
        """
        while True:
            await self._sleep(self._interval_s)
            if self._done():
                return
            try:
                await self.sweep_once()
                if self._orphans is not None:
                    await self._orphans.sweep_due()
            except Exception:  # Postgres, NATS or the blob store down: next round
                if not self._done():
                    log.exception("sweep failed")

    def start(self) -> asyncio.Task[None]:
        """Start :meth:`run` in the background (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="ingest-sweeper")
            _BACKGROUND.add(self._task)  # the loop keeps only weak references to tasks
            self._task.add_done_callback(_BACKGROUND.discard)
        return self._task

    async def stop(self) -> None:
        """Stop sweeping and wait for a sweep in progress to finish; idempotent."""
        self._stopped.set()
        if self._task is not None:
            await self._task

    def _done(self) -> bool:
        return self._stopped.is_set() or self._pool.is_closing()

    async def _sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._done() and (left := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), min(left, STOP_CHECK_S))
