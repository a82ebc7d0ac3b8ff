"""API keys for tools that act for several tenants (benchmarks), made straight in Postgres.

A tool that talks to one tenant uses that tenant's key (``--api-key``, or the local
stack's admin key). A benchmark that plays several tenants at once (fairness, the
embeddings API under another tenant's import) makes a key per tenant the way
``ragbus tenants create`` does, which needs the database (``DATABASE_URL``, or the
one ``ragbus up`` records in its ``stack.json``).
"""

from gateway.auth.bootstrap import issue_key
from gateway.auth.roles import Role
from ragbus.stores.postgres import create_pool, migrate


async def tenant_key(database_url: str, tenant: str, role: str = "admin") -> str:
    """A new key of ``role`` in ``tenant`` (created if missing) on ``database_url``."""
    pool = await create_pool(database_url)
    try:
        await migrate(pool)
        return await issue_key(pool, tenant, Role(role), f"bench-{role}")
    finally:
        await pool.close()
