"""A Postgres storage for the ``limits`` library, so every gateway replica shares counters.

``limits`` keeps the algorithms (fixed window, with costs); this adapter keeps
their counters in ``rate_limit_counters``: one row per key, reset when its window
has passed. One ``INSERT ... ON CONFLICT`` per hit, so concurrent hits from any
replica are counted exactly.
"""

from datetime import UTC, datetime

import asyncpg
from limits.aio.storage import Storage


class PostgresStorage(Storage):
    """Fixed-window counters in Postgres (no moving or sliding windows).

    Args:
        pool: The Postgres pool with the ``rate_limit_counters`` table.
    """

    STORAGE_SCHEME: list[str] | None = ["ragbus+postgres"]  # noqa: RUF012 (limits reads it)

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__()
        self._pool = pool

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        """Errors the storage raises (``limits`` may wrap them)."""
        return (asyncpg.PostgresError, OSError)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to ``key``'s counter, starting a window of ``expiry`` s if none runs."""
        value = await self._pool.fetchval(
            """INSERT INTO rate_limit_counters (key, count, expires_at)
               VALUES ($1, $3, now() + make_interval(secs => $2))
               ON CONFLICT (key) DO UPDATE SET
                 count = CASE WHEN rate_limit_counters.expires_at <= now() THEN $3
                              ELSE rate_limit_counters.count + $3 END,
                 expires_at = CASE WHEN rate_limit_counters.expires_at <= now()
                                   THEN now() + make_interval(secs => $2)
                                   ELSE rate_limit_counters.expires_at END
               RETURNING count""",
            key,
            float(expiry),
            amount,
        )
        return int(value)

    async def get(self, key: str) -> int:
        """The counter of ``key`` in its current window (0 if none runs)."""
        value = await self._pool.fetchval(
            "SELECT count FROM rate_limit_counters WHERE key = $1 AND expires_at > now()", key
        )
        return int(value or 0)

    async def get_expiry(self, key: str) -> float:
        """When ``key``'s window ends, as a Unix time in seconds (now if none runs)."""
        value = await self._pool.fetchval(
            "SELECT expires_at FROM rate_limit_counters WHERE key = $1 AND expires_at > now()",
            key,
        )
        return (value or datetime.now(UTC)).timestamp()

    async def check(self) -> bool:
        """Whether Postgres answers."""
        try:
            return bool(await self._pool.fetchval("SELECT true"))
        except (asyncpg.PostgresError, OSError):
            return False

    async def reset(self) -> int | None:
        """Forget every counter; returns how many there were."""
        status = await self._pool.execute("DELETE FROM rate_limit_counters")
        return int(status.rsplit(" ", 1)[-1])

    async def clear(self, key: str) -> None:
        """Forget ``key``'s counter."""
        await self._pool.execute("DELETE FROM rate_limit_counters WHERE key = $1", key)
