"""API keys for tests: a tenant and a key of a given role, made straight in Postgres.

Tests reach the gateway as real clients do, with ``Authorization: Bearer <key>``;
the keys are made the way ``ragbus up`` and ``ragbus tenants create`` make them
(:func:`gateway.auth.bootstrap.issue_key`), one service account per role.
"""

import asyncpg

from gateway.auth.bootstrap import issue_key
from gateway.auth.principal_store import PrincipalStore
from gateway.auth.roles import Role
from ragbus.stores.postgres import create_pool, migrate


async def key_for(
    pool: asyncpg.Pool, tenant: str, role: str = "admin", name: str | None = None
) -> str:
    """A new API key of ``role`` in ``tenant`` (created if missing), held by the service
    account ``name`` (``test-<role>`` by default; created with ``role`` if missing)."""
    return await issue_key(pool, tenant, Role(role), name or f"test-{role}")


async def principal_id(pool: asyncpg.Pool, tenant: str, name: str) -> str:
    """The id of the tenant's principal ``name``: what history and conversations record."""
    found = await PrincipalStore(pool).find(tenant, name)
    assert found is not None, f"{tenant} has no principal {name!r}"
    return str(found.id)


async def key_on(database_url: str, tenant: str, role: str = "admin") -> str:
    """:func:`key_for` on the database at ``database_url`` (migrated first)."""
    pool = await create_pool(database_url)
    try:
        await migrate(pool)
        return await key_for(pool, tenant, role)
    finally:
        await pool.close()


def bearer(key: str) -> dict[str, str]:
    """The header that authenticates with ``key``."""
    return {"Authorization": f"Bearer {key}"}
