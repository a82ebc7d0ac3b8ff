"""``GET /readyz`` checks every dependency, and says which one is down."""

import httpx
import pytest
from faststream.nats import NatsBroker

from gateway.readiness import LOCAL_QDRANT, readiness
from ragbus.resources import Resources
from ragbus.settings import InfraSettings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


async def test_readyz_checks_nats_postgres_vectors_and_blobs(stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as http:
        reply = await http.get("/readyz")
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "status": "ok",
        "nats": "ok",
        "postgres": "ok",
        "blob_store": "ok",
        "vector_store": "ok",  # opened by embed and retrieve in this process: pinged
    }


async def test_readiness_names_what_is_unreachable(nats_url: str, tmp_path) -> None:
    broker = NatsBroker(nats_url)
    await broker.connect()
    dead = "postgresql://nobody@127.0.0.1:1/none"  # nothing listens on port 1
    resources = Resources(
        InfraSettings(
            nats_url=nats_url,
            database_url=dead,
            data_dir=tmp_path,
            qdrant_url="http://127.0.0.1:1",
        )
    )
    try:
        checks = await readiness(broker, resources)
        local_infra = InfraSettings(nats_url=nats_url, database_url=dead, data_dir=tmp_path)
        local = await readiness(broker, Resources(local_infra))
    finally:
        await broker.stop()
    assert checks["nats"] == "ok" and checks["blob_store"] == "ok"
    assert checks["postgres"].startswith("down: ")
    assert checks["vector_store"].startswith("down: ")
    assert local["vector_store"] == LOCAL_QDRANT
