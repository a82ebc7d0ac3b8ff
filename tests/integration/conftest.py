"""Fixtures of the integration tier: migrated Postgres pools on the session's databases.

A module that needs something else (an unmigrated schema, another DSN) defines its
own fixture of the same name, which overrides these.
"""

import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest

from ragbus.stores.postgres import create_pool, migrate


@contextlib.asynccontextmanager
async def migrated_pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on ``dsn`` with every bundled migration applied, closed on exit."""
    pool = await create_pool(dsn)
    try:
        await migrate(pool)
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="module")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A migrated pool on the session's database, shared by the module's tests."""
    async with migrated_pool(database_url) as opened:
        yield opened


@pytest.fixture(scope="module")
async def pgvector_pool(pgvector_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A migrated pool on a database where the ``vector`` extension is available."""
    async with migrated_pool(pgvector_database_url) as opened:
        yield opened


@pytest.fixture(params=["qdrant", "pgvector"])
def pool_or_none(request: pytest.FixtureRequest) -> asyncpg.Pool | None:
    """None for Qdrant local mode; the pgvector pool (started only when needed) else."""
    return request.getfixturevalue("pgvector_pool") if request.param == "pgvector" else None
