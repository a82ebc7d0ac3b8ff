"""Chunk limits per tenant: what a tenant admin sets through the gateway's quotas is
what ingest_svc reads."""

import asyncpg
import pytest

from gateway.auth.principal_store import PrincipalStore
from gateway.auth.quotas import QuotaLimits, Quotas
from ragbus.stores.chunk_quotas import ChunkLimits, ChunkQuotas

pytestmark = pytest.mark.integration


async def test_tenant_overrides_reach_ingest_and_null_restores_the_default(
    pool: asyncpg.Pool, unique_name: str
) -> None:
    await PrincipalStore(pool).ensure_tenant(unique_name)
    defaults = ChunkLimits(max_chunks_per_document=500, max_chunks_per_mib=100)
    chunk_quotas = ChunkQuotas(pool, defaults)
    assert await chunk_quotas.limits_of(unique_name) == defaults  # no row
    quotas = Quotas(pool, QuotaLimits(), query_lease_s=60)
    await quotas.set_limits(unique_name, {"max_chunks_per_mib": 8})
    assert await chunk_quotas.limits_of(unique_name) == ChunkLimits(500, 8)
    usage = await quotas.usage(unique_name)
    assert usage["max_chunks_per_mib"] == {"limit": 8, "used": None}
    await quotas.set_limits(unique_name, {"max_chunks_per_mib": None, "max_chunks_per_document": 3})
    assert await chunk_quotas.limits_of(unique_name) == ChunkLimits(3, 100)
    assert await chunk_quotas.limits_of(f"{unique_name}-other") == defaults
