"""Document rows and their guarded lifecycle, in Postgres.

Status only moves forward (``uploaded`` -> ``parsing`` -> ``embedding`` ->
``indexed``); ``failed`` is reachable before ``indexed``; ``deleted`` is final.
Only :meth:`DocumentRepository.reset_for_reprocess` and
:meth:`DocumentRepository.new_version` go back to ``uploaded``, at ``version + 1``.

Retrieval shows a document's chunks only at its ``searchable_version``, which
:meth:`DocumentRepository.mark_indexed` sets in the same UPDATE that marks the
version indexed: while a new version is processed (or after it failed) the old
one stays searchable, so a query never sees none or both of them.
Every write is safe to repeat, so redelivered messages change nothing.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from ragbus.errors import RetryableError
from ragbus.stores.document_progress import DocumentProgress
from ragbus.stores.document_records import ALLOWED_FROM, DocumentRecord
from ragbus.stores.document_uploads import DocumentUploads
from ragbus.stores.document_versions import DocumentVersions
from ragbus.stores.index_versions import bump_index_version_sql
from ragbus.stores.postgres import pg_errors
from schemas.documents import DocumentStatus

__all__ = ["DocumentRecord", "DocumentRepository"]  # DocumentRecord: callers import it here


class DocumentRepository(DocumentVersions, DocumentUploads, DocumentProgress):
    """Tenant-scoped access to ``documents`` and ``document_batches``.

    The version methods (``new_version``, ``reset_for_reprocess``,
    ``find_by_external_id``, ``visible_versions``) come from
    :class:`~ragbus.stores.document_versions.DocumentVersions`; dedup, enqueue
    records and listings (``create_or_find``, ``find_by_sha256``, ``mark_enqueued``,
    ``delete_abandoned``, ``list``) from
    :class:`~ragbus.stores.document_uploads.DocumentUploads`; ``record_batch`` from
    :class:`~ragbus.stores.document_progress.DocumentProgress`.

    Every method raises :class:`~ragbus.errors.RetryableError` when Postgres is
    unreachable; ``tenant_id`` is part of every statement.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @pg_errors
    async def create(
        self,
        tenant_id: str,
        document_id: UUID,
        *,
        filename: str,
        content_type: str | None = None,
        sha256: str | None = None,
        size_bytes: int | None = None,
        blob_key: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        version: int = 1,
        external_id: str | None = None,
        uploaded_by: str | None = None,
        enqueued: bool = True,
    ) -> tuple[DocumentRecord, bool]:
        """Insert the document unless it exists; returns ``(row, created)``.

        ``uploaded_by`` is the principal whose upload creates it (members may delete
        and reprocess only their own). ``enqueued``: its ``document.uploaded`` is
        already in JetStream (a row made from the event itself); the gateway inserts
        with False and calls ``mark_enqueued`` once JetStream has acknowledged it.

        An existing row is returned unchanged (``created`` False), so a
        redelivered ``document.uploaded`` is a no-op. When another live document
        already has ``external_id`` (a concurrent upload won), that one is returned
        with ``created`` False: compare its ``id`` with ``document_id``.
        """
        row = await self._pool.fetchrow(
            """INSERT INTO documents (tenant_id, id, filename, content_type, sha256,
                   size_bytes, blob_key, metadata, version, external_id, uploaded_by,
                   enqueued_version)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
               ON CONFLICT DO NOTHING RETURNING *""",
            *(tenant_id, document_id, filename, content_type, sha256, size_bytes),
            *(blob_key, dict(metadata or {}), version, external_id, uploaded_by),
            version if enqueued else None,
        )
        if row is not None:
            return DocumentRecord.from_row(row), True
        existing = await self.get(tenant_id, document_id)
        if existing is None and external_id is not None:
            existing = await self.find_by_external_id(tenant_id, external_id)
        if existing is None:  # the key's holder was deleted in between: a retry succeeds
            raise RetryableError(f"external_id {external_id!r} changed hands; retry")
        return existing, False

    @pg_errors
    async def held_elsewhere(self, tenant_id: str, document_id: UUID) -> bool:
        """Whether another tenant than ``tenant_id`` has a document with this id.

        Ids are random uuid4s (or uuid5s of the tenant and event), so this only
        happens when an event names another tenant's document on purpose.
        """
        found = await self._pool.fetchval(
            "SELECT true FROM documents WHERE id = $1 AND tenant_id <> $2 LIMIT 1",
            document_id,
            tenant_id,
        )
        return bool(found)

    @pg_errors
    async def get(self, tenant_id: str, document_id: UUID) -> DocumentRecord | None:
        """The document, whatever its status, or None if this tenant has no such id."""
        row = await self._pool.fetchrow(
            "SELECT * FROM documents WHERE tenant_id = $1 AND id = $2", tenant_id, document_id
        )
        return None if row is None else DocumentRecord.from_row(row)

    @pg_errors
    async def set_status(
        self,
        tenant_id: str,
        document_id: UUID,
        status: DocumentStatus,
        *,
        error: str | None = None,
        error_code: str | None = None,
        version: int | None = None,
    ) -> bool:
        """Move the document to ``status`` if that is a forward transition.

        Args:
            version: Only if the row is still at this version (a stale event of an
                older version must not change the current one); ``None``: any.

        Returns:
            True if this call changed the row; False if it is missing, already there,
            at another version, or the move is not allowed (``deleted`` is final,
            ``indexed`` only goes to ``deleted``).

        Raises:
            ValueError: ``status`` is ``indexed`` (use :meth:`mark_indexed`) or
                ``uploaded`` (use :meth:`reset_for_reprocess`).
        """
        allowed = ALLOWED_FROM.get(DocumentStatus(status))
        if allowed is None:
            raise ValueError(f"set_status cannot move a document to {status!r}")
        result = await self._pool.execute(
            """UPDATE documents SET status = $3, error = $4, error_code = $5, updated_at = now()
               WHERE tenant_id = $1 AND id = $2 AND status = ANY($6::text[])
                 AND ($7::int IS NULL OR version = $7)""",
            *(tenant_id, document_id, str(status), error, error_code),
            [str(s) for s in allowed],
            version,
        )
        return result != "UPDATE 0"

    @pg_errors
    async def set_chunking(self, tenant_id: str, document_id: UUID, strategy: str) -> None:
        """Record the chunking strategy the document's current version is enqueued with."""
        await self._pool.execute(
            "UPDATE documents SET chunking = $3 WHERE tenant_id = $1 AND id = $2",
            *(tenant_id, document_id, str(strategy)),
        )

    @pg_errors
    async def set_parsed(
        self,
        tenant_id: str,
        document_id: UUID,
        *,
        version: int,
        chunks_total: int,
        title: str | None,
        parser: str | None,
        page_count: int | None,
        running_lines_dropped: int | None = None,
        empty_pages: int | None = None,
        parse_warning: str | None = None,
        instruction_chunks: int | None = None,
    ) -> bool:
        """Record the parse result of ``version`` and move to ``embedding``.

        ``running_lines_dropped``, ``empty_pages`` and ``parse_warning`` say what
        parsing left out (header and footer lines, pages without text, a code when
        that was most of the document); ``instruction_chunks`` the chunks that
        address an assistant (``ragbus.prompt_injection``).

        Returns:
            True if this call changed the row; False when the document is missing,
            at another version, or already past parsing (a redelivery).
        """
        result = await self._pool.execute(
            """UPDATE documents SET status = 'embedding', chunks_total = $4, title = $5,
                   parser = $6, page_count = $7, error = NULL, error_code = NULL,
                   running_lines_dropped = $8, empty_pages = $9, parse_warning = $10,
                   instruction_chunks = $11,
                   updated_at = now()
               WHERE tenant_id = $1 AND id = $2 AND version = $3
                 AND status IN ('uploaded', 'parsing')""",
            *(tenant_id, document_id, version, chunks_total, title, parser, page_count),
            *(running_lines_dropped, empty_pages, parse_warning, instruction_chunks),
        )
        return result != "UPDATE 0"

    @pg_errors
    async def mark_indexed(
        self, tenant_id: str, document_id: UUID, *, version: int
    ) -> datetime | None:
        """Move ``embedding`` -> ``indexed`` once every chunk of ``version`` is embedded.

        The same UPDATE makes ``version`` the ``searchable_version``: retrieval
        switches from the previous version to this one in a single row change.

        Returns:
            ``indexed_at`` if this call made the transition, else None (not done yet,
            already indexed, deleted, or another version), so exactly one caller
            publishes ``document.indexed``.
        """
        # The tenant's index version moves in the same statement, so no cached
        # answer (the gateway's answer cache) outlives the switch.
        return await self._pool.fetchval(
            f"""WITH done AS (
                   UPDATE documents SET status = 'indexed', indexed_at = now(),
                       updated_at = now(), error = NULL, error_code = NULL,
                       searchable_version = version
                   WHERE tenant_id = $1 AND id = $2 AND version = $3 AND status = 'embedding'
                     AND chunks_embedded = chunks_total
                   RETURNING indexed_at),
               bump AS ({bump_index_version_sql("done")})
               SELECT indexed_at FROM done""",
            *(tenant_id, document_id, version),
        )

    @pg_errors
    async def mark_deleted(self, tenant_id: str, document_id: UUID) -> DocumentRecord | None:
        """Mark the document deleted (idempotent); returns its row, or None if missing.

        A deletion bumps the tenant's index version in the same statement (the
        answer cache's invalidation); a repeated call bumps nothing.
        """
        row = await self._pool.fetchrow(
            f"""WITH gone AS (
                   UPDATE documents SET status = 'deleted', updated_at = now()
                   WHERE tenant_id = $1 AND id = $2 AND status <> 'deleted' RETURNING *),
               bump AS ({bump_index_version_sql("gone")})
               SELECT * FROM gone""",
            tenant_id,
            document_id,
        )
        return DocumentRecord.from_row(row) if row else await self.get(tenant_id, document_id)
