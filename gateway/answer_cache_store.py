"""Cached answers in Postgres, valid while the tenant's index version is unchanged.

The gateway (every replica) reads and writes ``answer_cache``; ``documents``
bumps ``tenant_index_versions`` when a document version becomes searchable or a
document is deleted (see :func:`ragbus.stores.index_versions.bump_index_version_sql`).
"""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from ragbus.stores.postgres import pg_errors


@dataclass(frozen=True, slots=True)
class CacheLookup:
    """What one lookup found.

    Attributes:
        index_version: The tenant's index version when looked up (0 before any
            document was indexed); an answer stored later is tagged with it.
        answer: The cached ``AnswerReady`` JSON, or None on a miss.
        query_id: The query that produced ``answer``.
    """

    index_version: int
    answer: dict[str, Any] | None = None
    query_id: UUID | None = None


class AnswerCacheRepository:
    """Tenant-scoped access to ``answer_cache``; every method may raise ``RetryableError``."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @pg_errors
    async def lookup(self, tenant_id: str, key: str, *, max_age_s: float) -> CacheLookup:
        """The tenant's index version and, if current and fresh, the answer cached at ``key``.

        One round trip; a hit also counts itself in ``hits``.

        Args:
            tenant_id: The tenant.
            key: The cache key (hex sha256).
            max_age_s: Entries older than this many seconds are misses.
        """
        row = await self._pool.fetchrow(
            """WITH v AS (SELECT coalesce((SELECT version FROM tenant_index_versions
                                           WHERE tenant_id = $1), 0) AS version),
                    hit AS (UPDATE answer_cache c SET hits = c.hits + 1 FROM v
                            WHERE c.tenant_id = $1 AND c.key = $2
                              AND c.index_version = v.version
                              AND c.created_at > now() - make_interval(secs => $3)
                            RETURNING c.answer, c.query_id)
               SELECT v.version, hit.answer, hit.query_id FROM v LEFT JOIN hit ON true""",
            tenant_id,
            key,
            max_age_s,
        )
        return CacheLookup(int(row["version"]), row["answer"], row["query_id"])

    @pg_errors
    async def index_version(self, tenant_id: str) -> int:
        """The tenant's index version: 0 until a document is indexed or deleted."""
        value = await self._pool.fetchval(
            "SELECT version FROM tenant_index_versions WHERE tenant_id = $1", tenant_id
        )
        return int(value or 0)

    @pg_errors
    async def store(
        self,
        tenant_id: str,
        key: str,
        *,
        index_version: int,
        query_id: UUID,
        answer: dict[str, Any],
    ) -> bool:
        """Cache ``answer`` at ``key`` for ``index_version``, replacing an older entry.

        An entry for a newer index version is never replaced by an older one (a
        slow answer to a question asked before an ingest arrives after it).

        Returns:
            True if stored.
        """
        result = await self._pool.execute(
            """INSERT INTO answer_cache (tenant_id, key, index_version, query_id, answer)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (tenant_id, key) DO UPDATE
               SET index_version = EXCLUDED.index_version, query_id = EXCLUDED.query_id,
                   answer = EXCLUDED.answer, hits = 0, created_at = now()
               WHERE answer_cache.index_version <= EXCLUDED.index_version""",
            *(tenant_id, key, index_version, query_id, answer),
        )
        return result != "INSERT 0 0"

    @pg_errors
    async def prune(self, *, max_age_s: float, max_entries: int) -> int:
        """Delete entries older than ``max_age_s`` seconds, then the oldest beyond
        ``max_entries`` (across tenants); returns how many were deleted."""
        async with self._pool.acquire() as conn:
            old = await conn.execute(
                "DELETE FROM answer_cache WHERE created_at <= now() - make_interval(secs => $1)",
                max_age_s,
            )
            extra = await conn.execute(
                """DELETE FROM answer_cache WHERE ctid IN (
                       SELECT ctid FROM answer_cache ORDER BY created_at DESC OFFSET $1)""",
                max_entries,
            )
        return int(old.split()[-1]) + int(extra.split()[-1])
