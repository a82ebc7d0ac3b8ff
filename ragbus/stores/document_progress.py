"""Embedding progress of a document version: each batch counted once, in one statement.

Part of :class:`~ragbus.stores.documents.DocumentRepository` (a mixin). embed_svc
records every ``chunks.ready`` batch it commits, so this is one round trip per
batch on the pipeline's hot path. It used to be a transaction of five round trips
(``BEGIN``, the row locked with ``SELECT ... FOR UPDATE``, the batch inserted, the
progress summed over the batches, ``COMMIT``); it is now one statement with the
same guarantees, and a second read only for a batch counted before.
"""

from uuid import UUID

import asyncpg

from ragbus.stores.postgres import pg_errors
from schemas.documents import Progress

__all__ = ["RECORD_BATCH_SQL", "DocumentProgress"]

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
            row = await self._pool.fetchrow(
                """SELECT chunks_embedded, chunks_total FROM documents
                    WHERE tenant_id = $1 AND id = $2 AND version = $3 AND status <> 'deleted'""",
                *(tenant_id, document_id, version),
            )
        if row is None:
            return None
        return Progress(done=row["chunks_embedded"], total=row["chunks_total"])
