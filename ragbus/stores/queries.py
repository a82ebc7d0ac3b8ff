"""Query rows in Postgres: the question, then exactly one answer or failure."""

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg

from ragbus.stores.postgres import pg_errors, record_to_dict

QueryStatus = Literal["pending", "answered", "failed"]

# A query is visible to a caller unless it belongs to another user's private
# conversation ($2 is the caller's user id, or null).
_VISIBLE = """SELECT q.* FROM queries q
    LEFT JOIN conversations c ON c.tenant_id = q.tenant_id AND c.id = q.conversation_id
    WHERE q.tenant_id = $1 AND (q.conversation_id IS NULL OR c.visibility = 'tenant'
        OR c.user_id IS NOT DISTINCT FROM $2)"""


@dataclass(frozen=True, slots=True)
class QueryRecord:
    """One ``queries`` row.

    Attributes:
        status: ``pending`` until :meth:`QueryRepository.complete` (``answered``) or
            :meth:`QueryRepository.fail` (``failed``).
        citations: Citation objects as JSON dicts (see ``schemas.queries.Citation``).
        timings: Stage durations in milliseconds (see ``schemas.queries.Timings``).
        conversation_id: The conversation this query is a turn of, if any.
        standalone_question: What was retrieved and answered when it differs from
            ``question`` (a follow-up condensed with the conversation's history).
        deltas: The streamed answer pieces, indexed by their ``seq``.
        confidence: See ``schemas.queries.AnswerReady.confidence``, in [0, 1].
        usage: LLM tokens, attempts and cost (see ``schemas.queries.Usage``).
        cached_from: For an answer served from the answer cache, the query that
            produced it; ``None`` for an answer made for this query.
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
    conversation_id: UUID | None = None
    standalone_question: str | None = None
    deltas: list[str] | None = None
    confidence: float | None = None
    usage: dict[str, Any] | None = None
    cached_from: UUID | None = None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> "QueryRecord":
        """Build a record from a ``SELECT *`` row of ``queries``; unknown columns are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record_to_dict(row).items() if k in known})


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
        conversation_id: UUID | None = None,
        standalone_question: str | None = None,
    ) -> tuple[QueryRecord, bool]:
        """Insert the query as ``pending`` unless it exists; returns ``(row, created)``.

        The gateway creates the row of a conversation turn before publishing it, so
        retrieve_svc's later ``create`` of the same id changes nothing.
        """
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                """INSERT INTO queries (tenant_id, id, user_id, question, top_k,
                       conversation_id, standalone_question)
                   VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING *""",
                *(tenant_id, query_id, user_id, question, top_k),
                *(conversation_id, standalone_question),
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
        deltas: Sequence[str] | None = None,
        confidence: float | None = None,
        usage: Mapping[str, Any] | None = None,
        cached_from: UUID | None = None,
    ) -> bool:
        """Store the answer of a pending query.

        Args:
            citations: JSON-ready dicts, e.g. ``[c.model_dump(mode="json") for c in ...]``.
            timings: JSON-ready stage durations in milliseconds.
            deltas: The streamed pieces in ``seq`` order; they join to ``answer``.
            confidence: In [0, 1], see ``schemas.queries.AnswerReady.confidence``.
            usage: JSON-ready ``schemas.queries.Usage``; None offline.
            cached_from: The query whose cached answer this is (answer cache hits).

        Returns:
            True if this call answered it; False if it is missing or already finished.
        """
        result = await self._pool.execute(
            """UPDATE queries SET status = 'answered', answer = $3, citations = $4,
                   timings = $5, model = $6, found = $7, deltas = $8, confidence = $9,
                   usage = $10, cached_from = $11, completed_at = now()
               WHERE tenant_id = $1 AND id = $2 AND status = 'pending'""",
            *(tenant_id, query_id, answer, [dict(c) for c in citations], dict(timings)),
            *(model, found, None if deltas is None else list(deltas), confidence),
            None if usage is None else dict(usage),
            cached_from,
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
    async def get_visible(
        self, tenant_id: str, query_id: UUID, user_id: str | None
    ) -> QueryRecord | None:
        """The query if ``user_id`` may see it (not in another user's private conversation)."""
        row = await self._pool.fetchrow(f"{_VISIBLE} AND q.id = $3", tenant_id, user_id, query_id)
        return None if row is None else QueryRecord.from_row(row)

    @pg_errors
    async def list(
        self,
        tenant_id: str,
        limit: int = 50,
        *,
        user_id: str | None = None,
        conversation_id: UUID | None = None,
        newest_first: bool = True,
    ) -> builtins.list[QueryRecord]:
        """The queries ``user_id`` may see, newest first; ``limit`` is clamped to 1..1000.

        Args:
            tenant_id: The tenant.
            limit: Most rows returned.
            user_id: The caller; queries of other users' private conversations are left out.
            conversation_id: Only this conversation's turns.
            newest_first: False gives the oldest first (a conversation's order).
        """
        order = "DESC" if newest_first else "ASC"
        rows = await self._pool.fetch(
            f"""{_VISIBLE} AND ($3::uuid IS NULL OR q.conversation_id = $3)
               ORDER BY q.created_at {order}, q.id LIMIT $4""",
            *(tenant_id, user_id, conversation_id, min(max(limit, 1), 1000)),
        )
        return [QueryRecord.from_row(r) for r in rows]
