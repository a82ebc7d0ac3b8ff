"""The version-related half of :class:`~ragbus.stores.documents.DocumentRepository`.

A document keeps one row across versions: :meth:`DocumentVersions.new_version`
and :meth:`DocumentVersions.reset_for_reprocess` move it back to ``uploaded`` at
``version + 1`` and leave ``searchable_version`` alone, so the last indexed
version stays searchable until the new one is indexed
(:meth:`~ragbus.stores.documents.DocumentRepository.mark_indexed`).
:meth:`DocumentVersions.visible_versions` is what retrieval filters by, and
:meth:`DocumentVersions.find_by_external_id` finds the row a client key names.
"""

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

import asyncpg

from ragbus.stores.document_records import DocumentRecord
from ragbus.stores.postgres import pg_errors

__all__ = ["DocumentVersions"]


class DocumentVersions:
    """Mixin of :class:`~ragbus.stores.documents.DocumentRepository`: versions and keys.

    Every method raises :class:`~ragbus.errors.RetryableError` when Postgres is
    unreachable; ``tenant_id`` is part of every statement.
    """

    _pool: asyncpg.Pool  # set by DocumentRepository.__init__

    @pg_errors
    async def find_by_external_id(self, tenant_id: str, external_id: str) -> DocumentRecord | None:
        """The live (not deleted) document with this client key, if any."""
        row = await self._pool.fetchrow(
            """SELECT * FROM documents WHERE tenant_id = $1 AND external_id = $2
                 AND status <> 'deleted'""",
            tenant_id,
            external_id,
        )
        return None if row is None else DocumentRecord.from_row(row)

    @pg_errors
    async def visible_versions(
        self, tenant_id: str, document_ids: Iterable[UUID]
    ) -> dict[UUID, int]:
        """The ``searchable_version`` of each of these documents that retrieval may show.

        Documents that are deleted, unknown to this tenant, or not indexed at any
        version yet are absent: none of their chunks may be returned.
        """
        wanted = set(document_ids)
        if not wanted:
            return {}
        rows = await self._pool.fetch(
            """SELECT id, searchable_version FROM documents
               WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND status <> 'deleted'
                 AND searchable_version IS NOT NULL""",
            tenant_id,
            list(wanted),
        )
        return {r["id"]: r["searchable_version"] for r in rows}

    async def reset_for_reprocess(self, tenant_id: str, document_id: UUID) -> DocumentRecord | None:
        """Start the document over at ``version + 1`` from the same bytes, zero progress.

        ``searchable_version`` is kept: the last indexed version stays searchable
        until the new one is indexed.

        Returns:
            The reset row (status ``uploaded``), or None if missing or deleted.
        """
        return await self._next_version(tenant_id, document_id, {})

    async def new_version(
        self,
        tenant_id: str,
        document_id: UUID,
        *,
        sha256: str,
        size_bytes: int,
        blob_key: str,
        filename: str,
        content_type: str | None,
        metadata: Mapping[str, Any],
    ) -> DocumentRecord | None:
        """Start ``version + 1`` of the document with new content, zero progress.

        Like :meth:`reset_for_reprocess`, the searchable version is untouched.

        Returns:
            The row of the new version (status ``uploaded``), or None if missing or
            deleted.
        """
        content: dict[str, Any] = dict(sha256=sha256, size_bytes=size_bytes, blob_key=blob_key)
        content.update(filename=filename, content_type=content_type, metadata=dict(metadata))
        return await self._next_version(tenant_id, document_id, content)

    @pg_errors
    async def _next_version(
        self, tenant_id: str, document_id: UUID, content: Mapping[str, Any]
    ) -> DocumentRecord | None:
        # Column names come from new_version's keywords only, never from a caller.
        sets = "".join(f", {col} = ${i}" for i, col in enumerate(content, start=3))
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"""UPDATE documents SET status = 'uploaded', version = version + 1,
                       chunks_total = 0, chunks_embedded = 0, error = NULL, error_code = NULL,
                       indexed_at = NULL, updated_at = now(){sets}
                   WHERE tenant_id = $1 AND id = $2 AND status <> 'deleted' RETURNING *""",
                tenant_id,
                document_id,
                *content.values(),
            )
            if row is None:
                return None
            await conn.execute(
                """DELETE FROM document_batches
                   WHERE tenant_id = $1 AND document_id = $2 AND version < $3""",
                *(tenant_id, document_id, row["version"]),
            )
        return DocumentRecord.from_row(row)
