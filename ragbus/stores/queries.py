"""Query rows in Postgres: the question, then exactly one answer or failure."""

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg

from ragbus.stores.postgres import pg_errors, record_to_dict

QueryStatus = Literal["pending", "answered", "failed"]


@dataclass(frozen=True, slots=True)
class QueryRecord:
    """One ``queries`` row.

    Attributes:
        status: ``pending`` until :meth:`QueryRepository.complete` (``answered``) or
            :meth:`QueryRepository.fail` (``failed``).
        citations: Citation objects as JSON dicts (see ``schemas.queries.Citation``).
        timings: Stage durations in milliseconds (see ``schemas.queries.Timings``).
    """

    tenant_id: str
    id: UUID
    user_id: str | None
    question: str
    top_k: int
    status: QueryStatus
    answer: str | None
    citations: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    found: bool | None = None
    error_code: str | None = None
    error: str | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> "QueryRecord":
        """Build a record from a ``SELECT *`` row of ``queries``."""
        return cls(**record_to_dict(row))


class QueryRepository:
    """Tenant-scoped access to ``queries``; every method may raise ``RetryableError``."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @pg_errors
    async def create(
        self,
        tenant_id: str,
        query_id: UUID,
        *,
        question: str,
        top_k: int,
        user_id: str | None = None,
    ) -> tuple[QueryRecord, bool]:
        """Insert the query as ``pending`` unless it exists; returns ``(row, created)``."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                """INSERT INTO queries (tenant_id, id, user_id, question, top_k)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING *""",
                *(tenant_id, query_id, user_id, question, top_k),
            )
            if row is not None:
                return QueryRecord.from_row(row), True
            row = await conn.fetchrow(
                "SELECT * FROM queries WHERE tenant_id = $1 AND id = $2", tenant_id, query_id
            )
        return QueryRecord.from_row(row), False

    @pg_errors
    async def complete(
        self,
        tenant_id: str,
        query_id: UUID,
        *,
        answer: str,
        citations: Sequence[Mapping[str, Any]],
        timings: Mapping[str, Any],
        model: str,
        found: bool,
    ) -> bool:
        """Store the answer of a pending query.

        Args:
            citations: JSON-ready dicts, e.g. ``[c.model_dump(mode="json") for c in ...]``.
            timings: JSON-ready stage durations in milliseconds.

        Returns:
            True if this call answered it; False if it is missing or already finished.
        """
        result = await self._pool.execute(
            """UPDATE queries SET status = 'answered', answer = $3, citations = $4,
                   timings = $5, model = $6, found = $7, completed_at = now()
               WHERE tenant_id = $1 AND id = $2 AND status = 'pending'""",
            *(tenant_id, query_id, answer, [dict(c) for c in citations], dict(timings)),
            *(model, found),
        )
        return result != "UPDATE 0"

    @pg_errors
    async def fail(self, tenant_id: str, query_id: UUID, *, code: str, error: str) -> bool:
        """Mark a pending query failed; returns False if missing or already finished."""
        result = await self._pool.execute(
            """UPDATE queries SET status = 'failed', error_code = $3, error = $4,
                   completed_at = now()
               WHERE tenant_id = $1 AND id = $2 AND status = 'pending'""",
            *(tenant_id, query_id, code, error),
        )
        return result != "UPDATE 0"

    @pg_errors
    async def get(self, tenant_id: str, query_id: UUID) -> QueryRecord | None:
        """The query, or None if this tenant has no such id."""
        row = await self._pool.fetchrow(
            "SELECT * FROM queries WHERE tenant_id = $1 AND id = $2", tenant_id, query_id
        )
        return None if row is None else QueryRecord.from_row(row)

    @pg_errors
    async def list(self, tenant_id: str, limit: int = 50) -> builtins.list[QueryRecord]:
        """The tenant's queries, newest first; ``limit`` is clamped to 1..1000."""
        rows = await self._pool.fetch(
            """SELECT * FROM queries WHERE tenant_id = $1
               ORDER BY created_at DESC, id LIMIT $2""",
            tenant_id,
            min(max(limit, 1), 1000),
        )
        return [QueryRecord.from_row(r) for r in rows]
