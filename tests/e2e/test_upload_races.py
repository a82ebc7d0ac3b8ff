"""Uploads under races and outages, through the real gateway: nothing doubles and the
library shows only what clients were given.

- 50 concurrent uploads of the same bytes make one document, one ``duplicate: false``
  and one set of vectors (before the advisory lock of
  ``DocumentRepository.create_or_find``, 20 made 20 documents, all indexed);
- uploads refused with 503 while nats-server is down, retried by the client once it
  is back, leave exactly one row per file in the listing (before, each refused
  attempt stayed listed as ``failed enqueue_failed``).
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from ragbus.settings import InfraSettings
from ragbus_tools.servers import NatsServer
from tests.e2e.stack import RunningStack, running_stack, wait_final

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TEXT = (
    "# Turbine inspection\n\nThe blade root of turbine {n} is inspected every 400 hours"
    " for cracks longer than two millimetres.\n"
)


async def test_fifty_concurrent_identical_uploads_make_one_document(stack: RunningStack) -> None:
    tenant = f"race-{uuid.uuid4().hex[:8]}"
    data = TEXT.format(n="R-7").encode()
    headers = await stack.headers(tenant)
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(
        base_url=stack.url, headers=headers, timeout=120, limits=limits
    ) as http:
        replies = await asyncio.gather(
            *(
                http.post("/v1/documents", files=[("file", (f"copy{i}.md", data, "text/markdown"))])
                for i in range(50)
            )
        )
    assert [r.status_code for r in replies] == [202] * 50, [r.text for r in replies]
    docs = [r.json()["documents"][0] for r in replies]
    assert len({d["id"] for d in docs}) == 1
    assert sorted(d["duplicate"] for d in docs) == [False] + [True] * 49

    async with stack.client(tenant) as client:
        (final,) = (await wait_final(client, [docs[0]["id"]], 120)).values()
        listed = await client._http.get("/v1/documents")
    assert final["status"] == "indexed" and final["chunks"] >= 1, final
    assert [d["id"] for d in listed.json()["documents"]] == [docs[0]["id"]]
    vectors = await stack.resources.vector_store()
    assert await vectors.count(tenant_id=tenant) == final["chunks"]


@pytest.fixture(scope="module")
async def outage_stack(
    database_url: str,
    nats_server_factory: Callable[..., NatsServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[RunningStack, NatsServer]]:
    """The stack on a private nats-server the test stops and starts again."""
    data_dir: Path = tmp_path_factory.mktemp("outage")
    server = nats_server_factory(data_dir / "nats")
    infra = InfraSettings(nats_url=server.url, database_url=database_url, data_dir=data_dir)
    async with running_stack(infra, name="ragbus-outage") as running:
        yield running, server


async def post_until_accepted(http: httpx.AsyncClient, name: str, data: bytes) -> list[int]:
    """Post the file as a client with retries does; the status of every attempt."""
    statuses: list[int] = []
    while True:
        reply = await http.post("/v1/documents", files=[("file", (name, data, "text/markdown"))])
        statuses.append(reply.status_code)
        if reply.status_code == 202:
            return statuses
        assert reply.status_code == 503, reply.text
        assert len(statuses) < 40, statuses
        await asyncio.sleep(0.5)


async def test_uploads_refused_during_a_nats_outage_are_listed_once(
    outage_stack: tuple[RunningStack, NatsServer],
) -> None:
    stack, server = outage_stack
    tenant = f"outage-{uuid.uuid4().hex[:8]}"
    files = {f"turbine{i}.md": TEXT.format(n=i).encode() for i in range(4)}
    headers = await stack.headers(tenant)
    async with httpx.AsyncClient(base_url=stack.url, headers=headers, timeout=120) as http:
        before = await post_until_accepted(http, "turbine0.md", files["turbine0.md"])
        server.stop()
        try:
            refused = await asyncio.gather(
                *(
                    http.post("/v1/documents", files=[("file", (name, data, "text/markdown"))])
                    for name, data in list(files.items())[1:]
                )
            )
        finally:
            server.start()
        retried = await asyncio.gather(
            *(post_until_accepted(http, name, data) for name, data in list(files.items())[1:])
        )
        listed = (await http.get("/v1/documents")).json()["documents"]
    assert before == [202]
    assert [r.status_code for r in refused] == [503] * 3, [r.text for r in refused]
    assert all(statuses[-1] == 202 for statuses in retried)
    assert sorted(d["filename"] for d in listed) == sorted(files)
    async with stack.client(tenant) as client:
        docs = await wait_final(client, [d["id"] for d in listed], 120)
    assert {d["status"] for d in docs.values()} == {"indexed"}, docs
    rows = await (await stack.resources.pool()).fetchval(
        "SELECT count(*) FROM documents WHERE tenant_id = $1", tenant
    )
    assert rows == len(files)  # the refused attempts' rows were reused, not left behind
