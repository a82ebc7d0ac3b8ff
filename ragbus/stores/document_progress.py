"""Embedding progress of a document version: each batch counted once, in one statement.

Part of :class:`~ragbus.stores.documents.DocumentRepository` (a mixin). embed_svc
records every ``chunks.ready`` batch it commits, so this is one round trip per
batch on the pipeline's hot path. It used to be a transaction of five round trips
(``BEGIN``, the row locked with ``SELECT ... FOR UPDATE``, the batch inserted, the
progress summed over the batches, ``COMMIT``); it is now one statement with the
same guarantees, and a second read only for a batch counted before.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from ragbus.stores.index_versions import bump_index_version_sql
from ragbus.stores.postgres import pg_errors
from schemas.documents import Progress

__all__ = ["COUNT_BATCH_SQL", "RECORD_BATCH_SQL", "BatchState", "DocumentProgress"]

RECORD_BATCH_SQL = """
WITH ins AS (
    INSERT INTO document_batches (tenant_id, document_id, version, batch_index, chunk_count)
    SELECT $1, $2, $3, $4, $5 FROM documents
     WHERE tenant_id = $1 AND id = $2 AND version = $3 AND status <> 'deleted'
    ON CONFLICT DO NOTHING RETURNING chunk_count)
UPDATE documents SET updated_at = now(), chunks_embedded = chunks_embedded + ins.chunk_count
  FROM ins
 WHERE tenant_id = $1 AND id = $2 AND version = $3 AND status <> 'deleted'
RETURNING chunks_embedded, chunks_total"""
"""Insert the batch if the version is live and the batch new; add its chunks.

Why it needs no explicit lock: the UPDATE takes the row's lock, and when a
concurrent batch of the same document updated the row first, Postgres re-reads the
committed row and recomputes ``chunks_embedded + ...`` and the ``WHERE`` on it
(READ COMMITTED's re-check of an updated row), so concurrent batches all count and
progress never goes backwards. A batch already recorded conflicts on
``document_batches``' key and adds nothing; a delete or a new version that commits
while the statement runs fails the re-checked ``WHERE``, and the batch row it may
have inserted is for a version nobody counts any more."""


_DONE = "status = 'embedding' AND chunks_embedded + ins.chunk_count = chunks_total"
"""This batch completes the version (``mark_indexed``'s condition, on the row before)."""

COUNT_BATCH_SQL = f"""
WITH ins AS (
    INSERT INTO document_batches (tenant_id, document_id, version, batch_index, chunk_count)
    SELECT $1, $2, $3, $4, $5 FROM documents
     WHERE tenant_id = $1 AND id = $2 AND version = $3 AND status <> 'deleted'
    ON CONFLICT DO NOTHING RETURNING chunk_count),
upd AS (
    UPDATE documents SET updated_at = now(),
        chunks_embedded = chunks_embedded + ins.chunk_count,
        status = CASE WHEN {_DONE} THEN 'indexed' ELSE status END,
        indexed_at = CASE WHEN {_DONE} THEN now() ELSE indexed_at END,
        searchable_version = CASE WHEN {_DONE} THEN version ELSE searchable_version END,
        error = CASE WHEN {_DONE} THEN NULL ELSE error END,
        error_code = CASE WHEN {_DONE} THEN NULL ELSE error_code END
      FROM ins
     WHERE tenant_id = $1 AND id = $2 AND version = $3 AND status <> 'deleted'
    RETURNING chunks_embedded, chunks_total, indexed_at,
        status = 'indexed' AND indexed_at = now() AS became_indexed),
done AS (SELECT 1 FROM upd WHERE became_indexed),
bump AS ({bump_index_version_sql("done")})
SELECT chunks_embedded, chunks_total, indexed_at, became_indexed FROM upd"""
""":data:`RECORD_BATCH_SQL`, and when the batch completes the version, ``mark_indexed``
in the same UPDATE: ``indexed``, searchable, the tenant's index version bumped.
``now()`` is the transaction's start, so ``indexed_at = now()`` after the update
says this statement indexed it (an earlier one has an earlier time)."""


@dataclass(frozen=True, slots=True)
class BatchState:
    """What decides whether a pulled batch is still wanted: its document's current
    ``version``, ``status`` and ``searchable_version``."""

    version: int
    status: str
    searchable_version: int | None

    def wants(self, version: int, replay: bool) -> bool:
        """Whether a batch of ``version`` is still wanted: the current version of a
        document not deleted, or for a ``replay`` (into an index being built) the
        searchable one."""
        if replay:
            return self.searchable_version == version
        return self.status != "deleted" and self.version == version


class DocumentProgress:
    """Mixin of :class:`~ragbus.stores.documents.DocumentRepository`: batch progress.

    Every method raises :class:`~ragbus.errors.RetryableError` when Postgres is
    unreachable; ``tenant_id`` is part of every statement.
    """

    _pool: asyncpg.Pool  # set by DocumentRepository.__init__

    @pg_errors
    async def record_batch(
        self, tenant_id: str, document_id: UUID, *, version: int, batch_index: int, chunk_count: int
    ) -> Progress | None:
        """Count an embedded batch once; progress is the sum over distinct batches.

        Returns:
            ``Progress(done, total)`` in chunks (for a batch counted before, the
            document's progress now), or None when the document is missing,
            deleted, or at another version (a stale batch, not recorded).
        """
        row = await self._pool.fetchrow(
            RECORD_BATCH_SQL, *(tenant_id, document_id, version, batch_index, chunk_count)
        )
        if row is None:  # counted by an earlier delivery, or no longer wanted: read
            return await self._progress(tenant_id, document_id, version)
        return Progress(done=row["chunks_embedded"], total=row["chunks_total"])

    async def _progress(self, tenant_id: str, document_id: UUID, version: int) -> Progress | None:
        row = await self._pool.fetchrow(
            """SELECT chunks_embedded, chunks_total FROM documents
                WHERE tenant_id = $1 AND id = $2 AND version = $3 AND status <> 'deleted'""",
            *(tenant_id, document_id, version),
        )
        return (
            None
            if row is None
            else Progress(done=row["chunks_embedded"], total=row["chunks_total"])
        )

    @pg_errors
    async def count_batch(
        self, tenant_id: str, document_id: UUID, *, version: int, batch_index: int, chunk_count: int
    ) -> tuple[Progress, datetime | None] | None:
        """:meth:`record_batch`, and ``mark_indexed`` when this batch completes the version.

        Returns:
            The progress and, when this call indexed the version, its ``indexed_at``
            (``None`` otherwise: not complete, or indexed before); ``None`` as
            :meth:`record_batch` does.
        """
        row = await self._pool.fetchrow(
            COUNT_BATCH_SQL, *(tenant_id, document_id, version, batch_index, chunk_count)
        )
        if row is None:  # counted before, or no longer wanted: read the progress
            progress = await self._progress(tenant_id, document_id, version)
            return None if progress is None else (progress, None)
        progress = Progress(done=row["chunks_embedded"], total=row["chunks_total"])
        return progress, row["indexed_at"] if row["became_indexed"] else None

    @pg_errors
    async def batch_states(
        self, keys: Sequence[tuple[str, UUID]]
    ) -> dict[tuple[str, UUID], BatchState]:
        """The :class:`BatchState` of each ``(tenant, document)`` that exists, in one read
        (embed_svc checks a whole pull of batches at once)."""
        rows = await self._pool.fetch(
            """SELECT tenant_id, id, version, status, searchable_version FROM documents
                WHERE (tenant_id, id) IN (SELECT * FROM unnest($1::text[], $2::uuid[]))""",
            [tenant for tenant, _ in keys],
            [document for _, document in keys],
        )
        return {
            (r["tenant_id"], r["id"]): BatchState(
                r["version"], r["status"], r["searchable_version"]
            )
            for r in rows
        }
