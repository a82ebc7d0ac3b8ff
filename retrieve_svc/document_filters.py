"""Retrieval filters that Postgres answers: upload metadata and upload time.

The vector stores only know chunks; what a document was uploaded with lives in
the ``documents`` table. So a filter on metadata or upload time is turned into the
list of the tenant's matching document ids, which the vector store then searches
within (its ``document_ids`` argument), next to the mandatory tenant filter.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from ragbus.stores.postgres import pg_errors

MetadataValue = str | int | float | bool


class DocumentFilters:
    """Finds a tenant's searchable documents that match upload-time filters.

    Args:
        pool: The application's pool (its connections encode ``jsonb``).
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @pg_errors
    async def matching(
        self,
        tenant_id: str,
        *,
        document_ids: Sequence[UUID] | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        uploaded_after: datetime | None = None,
        uploaded_before: datetime | None = None,
    ) -> list[UUID]:
        """Ids of ``tenant_id``'s searchable documents that satisfy every given filter.

        Args:
            tenant_id: Owner; always applied.
            document_ids: Only among these.
            metadata: Each key must have exactly this JSON value (``metadata @>``,
                served by the ``documents_metadata_path`` GIN index of migration 004).
            uploaded_after: ``created_at >=`` this.
            uploaded_before: ``created_at <`` this.

        Returns:
            The ids, in no particular order; deleted and never-indexed documents are
            left out.

        Raises:
            ValueError: ``tenant_id`` is empty.
            RetryableError: Postgres is unreachable.
        """
        if not tenant_id:
            raise ValueError("tenant_id is required")
        rows = await self._pool.fetch(
            """SELECT id FROM documents
               WHERE tenant_id = $1 AND status <> 'deleted' AND searchable_version IS NOT NULL
                 AND ($2::uuid[] IS NULL OR id = ANY($2))
                 AND ($3::jsonb IS NULL OR metadata @> $3)
                 AND ($4::timestamptz IS NULL OR created_at >= $4)
                 AND ($5::timestamptz IS NULL OR created_at < $5)""",
            tenant_id,
            None if document_ids is None else list(document_ids),
            None if metadata is None else dict(metadata),
            uploaded_after,
            uploaded_before,
        )
        return [r["id"] for r in rows]
