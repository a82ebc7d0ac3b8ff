"""Per-tenant settings in Postgres: for now, the default chunking strategy."""

import asyncpg

from ragbus.stores.postgres import pg_errors


class TenantSettingsRepository:
    """Tenant-scoped access to ``tenant_settings``.

    Every method raises :class:`~ragbus.errors.RetryableError` when Postgres is
    unreachable.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @pg_errors
    async def get_chunking(self, tenant_id: str) -> str | None:
        """The tenant's default chunking strategy, ``None`` if it never set one."""
        value = await self._pool.fetchval(
            "SELECT chunking FROM tenant_settings WHERE tenant_id = $1", tenant_id
        )
        return None if value is None else str(value)

    @pg_errors
    async def set_chunking(self, tenant_id: str, strategy: str) -> None:
        """Make ``strategy`` the tenant's default (an upsert: safe to repeat)."""
        await self._pool.execute(
            """INSERT INTO tenant_settings (tenant_id, chunking) VALUES ($1, $2)
               ON CONFLICT (tenant_id) DO UPDATE
               SET chunking = EXCLUDED.chunking, updated_at = now()""",
            tenant_id,
            strategy,
        )
