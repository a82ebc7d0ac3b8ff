"""The upload-related half of :class:`~ragbus.stores.documents.DocumentRepository`.

Two guarantees the gateway's uploads need from the row:

- **One document per tenant and content.** :meth:`DocumentUploads.create_or_find`
  finds a live document with the same SHA-256 or inserts one, both in one
  transaction holding an advisory lock on ``(tenant, sha256)``: concurrent identical
  uploads queue on the lock, and each after the first finds the row the first
  inserted. An advisory lock, not a unique index, because rows written before it
  may already hold duplicates, and documents with an ``external_id`` may share
  bytes with others by design.
- **A row the client never got stays out of sight.** A row is inserted with
  ``enqueued_version`` NULL; :meth:`DocumentUploads.mark_enqueued` sets it once
  JetStream has acknowledged ``document.uploaded``. Listings hide rows never
  enqueued; a retry of the same bytes finds such a row and enqueues it again;
  :meth:`DocumentUploads.delete_abandoned` removes the ones nobody retried.
"""

import builtins
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import asyncpg

from ragbus.stores.document_records import DocumentRecord
from ragbus.stores.postgres import pg_errors

__all__ = ["LIVE_SHA256_SQL", "DocumentUploads"]

LIVE_SHA256_SQL = """SELECT * FROM documents WHERE tenant_id = $1 AND sha256 = $2
      AND status NOT IN ('deleted', 'failed') ORDER BY created_at, id LIMIT 1"""
"""The oldest live (neither deleted nor failed) document of ``$1`` with bytes ``$2``."""

# Key of the lock: 64 bits of a hash of tenant and digest; a collision only makes
# two unrelated uploads wait for each other's insert (milliseconds).
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))"


class DocumentUploads:
    """Mixin of :class:`~ragbus.stores.documents.DocumentRepository`: dedup and enqueueing.

    Every method raises :class:`~ragbus.errors.RetryableError` when Postgres is
    unreachable; ``tenant_id`` is part of every statement.
    """

    _pool: asyncpg.Pool  # set by DocumentRepository.__init__

    @pg_errors
    async def list(
        self, tenant_id: str, *, limit: int = 100, offset: int = 0, include_deleted: bool = False
    ) -> builtins.list[DocumentRecord]:
        """The tenant's documents, newest first; ``limit`` is clamped to 1..1000.

        Uploads that were never enqueued (no client got their id) are left out, and
        so are the ``enqueue_failed`` rows such uploads left before migration 010.
        """
        rows = await self._pool.fetch(
            """SELECT * FROM documents WHERE tenant_id = $1 AND ($2 OR status <> 'deleted')
                 AND NOT (status = 'uploaded' AND enqueued_version IS NULL)
                 AND error_code IS DISTINCT FROM 'enqueue_failed'
               ORDER BY created_at DESC, id LIMIT $3 OFFSET $4""",
            *(tenant_id, include_deleted, min(max(limit, 1), 1000), max(offset, 0)),
        )
        return [DocumentRecord.from_row(r) for r in rows]

    @pg_errors
    async def find_by_sha256(self, tenant_id: str, sha256: str) -> DocumentRecord | None:
        """The oldest live (neither deleted nor failed) document with these bytes, if any."""
        row = await self._pool.fetchrow(LIVE_SHA256_SQL, tenant_id, sha256)
        return None if row is None else DocumentRecord.from_row(row)

    @pg_errors
    async def create_or_find(
        self,
        tenant_id: str,
        document_id: UUID,
        *,
        sha256: str,
        filename: str,
        content_type: str | None,
        size_bytes: int,
        blob_key: str,
        metadata: Mapping[str, Any],
        uploaded_by: str | None,
    ) -> tuple[DocumentRecord, bool]:
        """The live document with these bytes, else a new one (version 1, not enqueued).

        Holds a transaction-scoped advisory lock on ``(tenant_id, sha256)`` across
        the lookup and the insert, so of any number of concurrent calls with the
        same bytes exactly one inserts and the others return its row.

        Returns:
            ``(row, created)``: ``created`` is True when this call inserted
            ``document_id`` (with ``blob_key``); False when another live document
            has the bytes (the caller's blob then belongs to no row).
        """
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_LOCK, tenant_id, sha256)
            row = await conn.fetchrow(LIVE_SHA256_SQL, tenant_id, sha256)
            if row is not None:
                return DocumentRecord.from_row(row), False
            row = await conn.fetchrow(
                """INSERT INTO documents (tenant_id, id, filename, content_type, sha256,
                       size_bytes, blob_key, metadata, uploaded_by)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *""",
                *(tenant_id, document_id, filename, content_type, sha256, size_bytes),
                *(blob_key, dict(metadata), uploaded_by),
            )
        return DocumentRecord.from_row(row), True

    @pg_errors
    async def mark_enqueued(self, tenant_id: str, document_id: UUID, version: int) -> bool:
        """Record that JetStream took ``document.uploaded`` of ``version``.

        Returns:
            True if this call recorded it; False when it was recorded already (by a
            concurrent upload of the same bytes that enqueued it too) or the row
            moved to another version.
        """
        result = await self._pool.execute(
            """UPDATE documents SET enqueued_version = $3
               WHERE tenant_id = $1 AND id = $2 AND version = $3
                 AND enqueued_version IS DISTINCT FROM $3""",
            tenant_id,
            document_id,
            version,
        )
        return result != "UPDATE 0"

    @pg_errors
    async def delete_abandoned(self, tenant_id: str, document_id: UUID) -> bool:
        """Delete the row if it is still ``uploaded`` and was never enqueued.

        Such a row is an upload that answered no ``2xx`` (its enqueue failed, or the
        gateway died before it) and that no retry reused, so nobody holds its id.
        ingest_svc's sweeper calls this for stale rows instead of re-publishing them.

        Returns:
            True if this call deleted it (the caller then deletes its blob).
        """
        result = await self._pool.execute(
            """DELETE FROM documents WHERE tenant_id = $1 AND id = $2
                 AND status = 'uploaded' AND enqueued_version IS NULL""",
            tenant_id,
            document_id,
        )
        return result != "DELETE 0"
