"""Conversation rows in Postgres; their turns are the ``queries`` rows that point at them."""

import builtins
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg

from ragbus.stores.postgres import pg_errors, record_to_dict

Visibility = Literal["private", "tenant"]

TITLE_MAX_CHARS = 120
"""Longest title kept; a conversation without one is titled by its first question."""

# A conversation is visible to a caller when it is shared with the tenant or the
# caller created it ($2 is the caller's user id, or null for an anonymous caller).
_VISIBLE = """tenant_id = $1 AND (visibility = 'tenant' OR user_id IS NOT DISTINCT FROM $2)"""


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    """One ``conversations`` row.

    Attributes:
        user_id: The creator; None when created without ``X-User-ID``.
        visibility: ``private`` (only the creator sees it) or ``tenant`` (everyone in
            the tenant sees it; only the creator deletes it).
        title: Given at creation, else set from the first question.
    """

    tenant_id: str
    id: UUID
    user_id: str | None
    title: str | None
    visibility: Visibility
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> "ConversationRecord":
        """Build a record from a ``SELECT *`` row; unknown columns are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record_to_dict(row).items() if k in known})

    def can_delete(self, user_id: str | None) -> bool:
        """Whether ``user_id`` may delete it: only its creator may."""
        return self.user_id == user_id


class ConversationRepository:
    """Tenant-scoped access to ``conversations``; every method may raise ``RetryableError``."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @pg_errors
    async def create(
        self,
        tenant_id: str,
        conversation_id: UUID,
        *,
        user_id: str | None,
        visibility: Visibility,
        title: str | None = None,
    ) -> ConversationRecord:
        """Insert a conversation (an existing id is returned unchanged, so a retry is safe)."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                """INSERT INTO conversations (tenant_id, id, user_id, title, visibility)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING *""",
                *(tenant_id, conversation_id, user_id, _title(title), visibility),
            )
            if row is None:
                row = await conn.fetchrow(
                    "SELECT * FROM conversations WHERE tenant_id = $1 AND id = $2",
                    tenant_id,
                    conversation_id,
                )
        return ConversationRecord.from_row(row)

    @pg_errors
    async def get(
        self, tenant_id: str, conversation_id: UUID, user_id: str | None
    ) -> ConversationRecord | None:
        """The conversation, or None if it does not exist or ``user_id`` may not see it."""
        row = await self._pool.fetchrow(
            f"SELECT * FROM conversations WHERE {_VISIBLE} AND id = $3",
            *(tenant_id, user_id, conversation_id),
        )
        return None if row is None else ConversationRecord.from_row(row)

    @pg_errors
    async def list(
        self, tenant_id: str, user_id: str | None, limit: int = 50
    ) -> builtins.list[ConversationRecord]:
        """The conversations ``user_id`` may see, most recently used first (1..1000 rows)."""
        rows = await self._pool.fetch(
            f"""SELECT * FROM conversations WHERE {_VISIBLE}
                ORDER BY updated_at DESC, id LIMIT $3""",
            *(tenant_id, user_id, min(max(limit, 1), 1000)),
        )
        return [ConversationRecord.from_row(r) for r in rows]

    @pg_errors
    async def touch(self, tenant_id: str, conversation_id: UUID, *, first_question: str) -> None:
        """Mark the conversation used now; title it with ``first_question`` if it has no title."""
        await self._pool.execute(
            """UPDATE conversations SET updated_at = now(), title = COALESCE(title, $3)
               WHERE tenant_id = $1 AND id = $2""",
            *(tenant_id, conversation_id, _title(first_question)),
        )

    @pg_errors
    async def delete(self, tenant_id: str, conversation_id: UUID) -> bool:
        """Delete the conversation and its turns (their ``queries`` rows) in one transaction.

        Returns:
            False if there was no such conversation.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM queries WHERE tenant_id = $1 AND conversation_id = $2",
                tenant_id,
                conversation_id,
            )
            result = await conn.execute(
                "DELETE FROM conversations WHERE tenant_id = $1 AND id = $2",
                tenant_id,
                conversation_id,
            )
        return result != "DELETE 0"


def _title(text: str | None) -> str | None:
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat[:TITLE_MAX_CHARS] or None
