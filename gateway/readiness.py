"""Readiness checks behind ``GET /readyz``: NATS, Postgres, the vector store, the blob store.

Each check returns ``"ok"`` or ``"down: <reason>"``; a probe reports, it never
raises. Every check is bounded by :data:`CHECK_TIMEOUT_S`.
"""

import asyncio
from collections.abc import Awaitable

from faststream.nats import NatsBroker
from qdrant_client import AsyncQdrantClient

from ragbus.resources import Resources

CHECK_TIMEOUT_S = 2.0
"""Longest wait per dependency, in seconds; a slower dependency is reported down."""

PROBE_KEY = "_ragbus/readyz-probe"
"""A blob key that is looked up, never written: the lookup proves the store answers."""

LOCAL_QDRANT = "not checked here: Qdrant local mode belongs to the embed and retrieve processes"


async def _bounded(check: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT_S)
    except Exception as exc:  # report, don't raise: this is a probe
        return f"down: {type(exc).__name__}"
    return "ok"


async def _nats(broker: NatsBroker) -> None:
    if not await broker.ping(timeout=CHECK_TIMEOUT_S):
        raise ConnectionError("no PONG from NATS")


async def _postgres(resources: Resources) -> None:
    pool = await resources.pool()
    await pool.fetchval("SELECT 1")


async def _qdrant_server(url: str, api_key: str | None) -> None:
    client = AsyncQdrantClient(url=url, api_key=api_key, timeout=int(CHECK_TIMEOUT_S))
    try:
        await client.get_collections()
    finally:
        await client.close()


async def _blobs(resources: Resources) -> None:
    store = await resources.blob_store()
    await store.exists(PROBE_KEY)


async def readiness(broker: NatsBroker, resources: Resources) -> dict[str, str]:
    """Check every dependency of this process; the values are ``ok`` or why not.

    The vector store is pinged where this process has it open (``ragbus up``), or
    reached directly when it is a server (Qdrant at ``QDRANT_URL``; pgvector lives
    in Postgres). Qdrant in local mode is a directory that only one process may
    open, so a gateway running on its own reports it as not checked.
    """
    infra = resources.infra
    checks = {
        "nats": _bounded(_nats(broker)),
        "postgres": _bounded(_postgres(resources)),
        "blob_store": _bounded(_blobs(resources)),
    }
    store = resources.opened_vector_store()
    if store is not None:
        checks["vector_store"] = _bounded(store.ping())
    elif infra.vector_store == "pgvector":
        checks["vector_store"] = _bounded(_postgres(resources))
    elif infra.qdrant_url:
        key = infra.qdrant_api_key.get_secret_value() if infra.qdrant_api_key else None
        checks["vector_store"] = _bounded(_qdrant_server(infra.qdrant_url, key))
    results = await asyncio.gather(*checks.values())
    out = dict(zip(checks, results, strict=True))
    out.setdefault("vector_store", LOCAL_QDRANT)
    return out


def all_ready(checks: dict[str, str]) -> bool:
    """Whether every check of :func:`readiness` passed.

    Args:
        checks: Dependency name to ``"ok"`` or why not.

    Returns:
        True when each is ``"ok"`` or :data:`LOCAL_QDRANT` (not this process's to check).
    """
    return all(v == "ok" or v == LOCAL_QDRANT for v in checks.values())
