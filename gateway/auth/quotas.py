"""Rate limits and quotas per tenant and per API key, shared by every gateway replica.

- requests per minute, per tenant and per key (a key may have a lower limit of its
  own): ``limits``' fixed window over :class:`PostgresStorage`;
- queries in flight per tenant: leased rows in ``query_slots`` (a replica that
  dies frees its slots when their lease ends);
- upload bytes per day per tenant: a one-day fixed window whose hits cost bytes;
- stored documents and bytes per tenant: counted from ``documents``;
- chunks per document and per MiB uploaded: only stored and shown here; ingest_svc
  applies them to each document (:mod:`ragbus.stores.chunk_quotas`).

A refusal is :class:`QuotaExceededError`, which the gateway answers with 429 and
``Retry-After``.
"""

import contextlib
import math
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from limits import RateLimitItemPerDay, RateLimitItemPerMinute
from limits.aio.strategies import FixedWindowRateLimiter

from gateway.auth.rate_limit_storage import PostgresStorage
from ragbus.stores.chunk_quotas import DEFAULT_MAX_CHUNKS_PER_DOCUMENT, DEFAULT_MAX_CHUNKS_PER_MIB
from ragbus.stores.postgres import pg_errors

QUOTA_COLUMNS = (
    "requests_per_minute",
    "concurrent_queries",
    "upload_bytes_per_day",
    "max_documents",
    "max_stored_bytes",
    "max_chunks_per_document",
    "max_chunks_per_mib",
)


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    """One tenant's limits.

    Attributes:
        requests_per_minute: HTTP requests per minute, every route but health.
        concurrent_queries: ``/v1/query`` and chat completions in flight at once.
        upload_bytes_per_day: Bytes uploaded per UTC-aligned day window.
        max_documents: Documents stored (deleted ones not counted).
        max_stored_bytes: Bytes of the documents stored.
        max_chunks_per_document: Chunks of one document version (ingest_svc).
        max_chunks_per_mib: Chunks per MiB uploaded, per document (ingest_svc).
    """

    requests_per_minute: int = 600
    concurrent_queries: int = 8
    upload_bytes_per_day: int = 2 * 1024**3
    max_documents: int = 100_000
    max_stored_bytes: int = 20 * 1024**3
    max_chunks_per_document: int = DEFAULT_MAX_CHUNKS_PER_DOCUMENT
    max_chunks_per_mib: int = DEFAULT_MAX_CHUNKS_PER_MIB


class QuotaExceededError(Exception):
    """A limit would be passed.

    Attributes:
        quota: Which limit (a :class:`QuotaLimits` field name, or ``key_requests_per_minute``).
        retry_after_s: Seconds after which the same request may succeed (at least 1).
    """

    def __init__(self, quota: str, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.quota = quota
        self.retry_after_s = max(1, math.ceil(retry_after_s))


class Quotas:
    """Checks and counts what a tenant uses.

    Args:
        pool: The Postgres pool.
        defaults: Limits of a tenant with no ``tenant_quotas`` row (or null columns).
        query_lease_s: Longest a query holds its slot, in seconds (the gateway's
            wait for an answer, plus a margin).
    """

    def __init__(self, pool: asyncpg.Pool, defaults: QuotaLimits, *, query_lease_s: float):
        self._pool = pool
        self._defaults = defaults
        self._lease = timedelta(seconds=query_lease_s)
        self._limiter = FixedWindowRateLimiter(PostgresStorage(pool))

    @pg_errors
    async def limits_of(self, tenant_id: str) -> QuotaLimits:
        """The tenant's limits: its own where set, the defaults elsewhere."""
        row = await self._pool.fetchrow(
            "SELECT * FROM tenant_quotas WHERE tenant_id = $1", tenant_id
        )
        if row is None:
            return self._defaults
        values = {c: row[c] for c in QUOTA_COLUMNS if row[c] is not None}
        return QuotaLimits(**{**_as_dict(self._defaults), **values})

    @pg_errors
    async def set_limits(self, tenant_id: str, values: dict[str, int | None]) -> QuotaLimits:
        """Set some of the tenant's limits (``None`` returns one to the default)."""
        columns = [c for c in QUOTA_COLUMNS if c in values]
        if columns:
            names = ", ".join(columns)
            params = ", ".join(f"${i + 2}" for i in range(len(columns)))
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
            await self._pool.execute(
                f"""INSERT INTO tenant_quotas (tenant_id, {names}) VALUES ($1, {params})
                    ON CONFLICT (tenant_id) DO UPDATE SET {updates}""",
                tenant_id,
                *(values[c] for c in columns),
            )
        return await self.limits_of(tenant_id)

    @pg_errors
    async def hit_request(
        self, tenant_id: str, key_id: uuid.UUID | None, key_rpm: int | None
    ) -> None:
        """Count one request of the tenant (and of the key, if it has its own limit).

        Raises:
            QuotaExceededError: the tenant's or the key's requests per minute.
        """
        limits = await self.limits_of(tenant_id)
        tenant_item = RateLimitItemPerMinute(limits.requests_per_minute)
        if not await self._limiter.hit(tenant_item, "tenant", tenant_id):
            wait = await self._retry_after(tenant_item, "tenant", tenant_id)
            raise QuotaExceededError(
                "requests_per_minute",
                f"the tenant's limit of {limits.requests_per_minute} requests per minute",
                wait,
            )
        if key_id is not None and key_rpm is not None:
            key_item = RateLimitItemPerMinute(key_rpm)
            if not await self._limiter.hit(key_item, "key", str(key_id)):
                wait = await self._retry_after(key_item, "key", str(key_id))
                raise QuotaExceededError(
                    "key_requests_per_minute",
                    f"this key's limit of {key_rpm} requests per minute",
                    wait,
                )

    @pg_errors
    async def check_upload(self, tenant_id: str, n_bytes: int, n_documents: int) -> None:
        """Refuse an upload that would pass the tenant's storage or daily upload limits.

        Raises:
            QuotaExceededError: ``upload_bytes_per_day``, ``max_documents`` or
                ``max_stored_bytes``.
        """
        limits = await self.limits_of(tenant_id)
        day = RateLimitItemPerDay(limits.upload_bytes_per_day)
        if not await self._limiter.test(day, "upload", tenant_id, cost=max(1, n_bytes)):
            raise QuotaExceededError(
                "upload_bytes_per_day",
                f"the tenant's limit of {limits.upload_bytes_per_day} upload bytes per day",
                await self._retry_after(day, "upload", tenant_id),
            )
        documents, stored = await self._stored(tenant_id)
        if documents + n_documents > limits.max_documents:
            raise QuotaExceededError(
                "max_documents",
                f"the tenant's limit of {limits.max_documents} stored documents",
                3600,
            )
        if stored + n_bytes > limits.max_stored_bytes:
            raise QuotaExceededError(
                "max_stored_bytes",
                f"the tenant's limit of {limits.max_stored_bytes} stored bytes",
                3600,
            )

    @pg_errors
    async def record_upload(self, tenant_id: str, n_bytes: int) -> None:
        """Count ``n_bytes`` accepted for the tenant today."""
        limits = await self.limits_of(tenant_id)
        day = RateLimitItemPerDay(limits.upload_bytes_per_day)
        await self._limiter.hit(day, "upload", tenant_id, cost=max(1, n_bytes))

    @contextlib.asynccontextmanager
    async def query_slot(self, tenant_id: str) -> AsyncIterator[None]:
        """Hold one of the tenant's query slots for the body.

        Raises:
            QuotaExceededError: ``concurrent_queries`` are already in flight.
        """
        slot = await self._acquire(tenant_id)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # the lease frees it anyway
                await self._pool.execute(
                    "DELETE FROM query_slots WHERE tenant_id = $1 AND id = $2", tenant_id, slot
                )

    @pg_errors
    async def _acquire(self, tenant_id: str) -> uuid.UUID:
        limit = (await self.limits_of(tenant_id)).concurrent_queries
        slot = uuid.uuid4()
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('query_slots:' || $1))", tenant_id
            )
            await conn.execute(
                "DELETE FROM query_slots WHERE tenant_id = $1 AND expires_at <= now()", tenant_id
            )
            taken = await conn.fetchval(
                "SELECT count(*) FROM query_slots WHERE tenant_id = $1", tenant_id
            )
            if taken >= limit:
                raise QuotaExceededError(
                    "concurrent_queries", f"the tenant's limit of {limit} queries at once", 1
                )
            await conn.execute(
                "INSERT INTO query_slots (tenant_id, id, expires_at) VALUES ($1, $2, now() + $3)",
                tenant_id,
                slot,
                self._lease,
            )
        return slot

    @pg_errors
    async def usage(self, tenant_id: str) -> dict[str, Any]:
        """Each limit of the tenant with what is used now (``None`` for the chunk
        limits, which apply to each document and have no running total)."""
        limits = await self.limits_of(tenant_id)
        minute = RateLimitItemPerMinute(limits.requests_per_minute)
        day = RateLimitItemPerDay(limits.upload_bytes_per_day)
        minute_stats = await self._limiter.get_window_stats(minute, "tenant", tenant_id)
        day_stats = await self._limiter.get_window_stats(day, "upload", tenant_id)
        in_flight = await self._pool.fetchval(
            "SELECT count(*) FROM query_slots WHERE tenant_id = $1 AND expires_at > now()",
            tenant_id,
        )
        documents, stored = await self._stored(tenant_id)
        used = {
            "requests_per_minute": limits.requests_per_minute - minute_stats.remaining,
            "concurrent_queries": int(in_flight),
            "upload_bytes_per_day": limits.upload_bytes_per_day - day_stats.remaining,
            "max_documents": documents,
            "max_stored_bytes": stored,
        }
        return {
            name: {"limit": getattr(limits, name), "used": used.get(name)} for name in QUOTA_COLUMNS
        }

    async def _stored(self, tenant_id: str) -> tuple[int, int]:
        row = await self._pool.fetchrow(
            """SELECT count(*) AS n, coalesce(sum(size_bytes), 0) AS bytes FROM documents
               WHERE tenant_id = $1 AND status <> 'deleted'""",
            tenant_id,
        )
        return int(row["n"]), int(row["bytes"])

    async def _retry_after(self, item: Any, *identifiers: str) -> float:
        stats = await self._limiter.get_window_stats(item, *identifiers)
        return stats.reset_time - time.time()


def _as_dict(limits: QuotaLimits) -> dict[str, int]:
    return {c: getattr(limits, c) for c in QUOTA_COLUMNS}
