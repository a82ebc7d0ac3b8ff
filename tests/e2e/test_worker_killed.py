"""A worker process killed mid-document: the document still reaches ``indexed``.

ingest_svc, embed_svc and the gateway run as separate OS processes (like
``test_multiprocess.py``) on a private nats-server, sharing vectors through
pgvector. embed_svc is SIGKILLed while a large document is half embedded; its
un-acked batches are redelivered after ``ack_wait`` to a fresh embed_svc process.
The ack wait is cut to 10 s (heartbeats every 3 s) to keep the test short, and
embed_svc pulls one 64-chunk batch at a time so progress moves in small steps.
"""

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import nats
import pytest

from deploy.jetstream import CHUNKS_STREAM
from embed_svc.tenant_lanes import lane_durable
from ragbus_tools.client import RagbusClient
from ragbus_tools.servers import NatsServer
from schemas import subjects as s
from tests.credentials import key_on
from tests.e2e.cluster import Cluster, cluster_env
from tests.e2e.stack import free_port, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

ACK_WAIT_S = 10


@pytest.fixture
def cluster(
    nats_server_factory: Callable[..., NatsServer],
    pgvector_database_url: str,
    tmp_path: Path,
) -> Iterator[Cluster]:
    nats_server = nats_server_factory(tmp_path / "nats")
    port = free_port()
    env = {
        **cluster_env(nats_server.url, pgvector_database_url, tmp_path, port),
        "RAGBUS_EMBED_ACK_WAIT_S": str(ACK_WAIT_S),
        "RAGBUS_EMBED_HEARTBEAT_S": "3",
        "RAGBUS_EMBED_BATCH_MESSAGES": "1",
        "RAGBUS_INGEST_ACK_WAIT_S": str(ACK_WAIT_S),
        "RAGBUS_INGEST_HEARTBEAT_S": "3",
    }
    running = Cluster(f"http://127.0.0.1:{port}", env, tmp_path)
    for module in ("ingest_svc", "embed_svc", "gateway"):
        running.start(module)
    try:
        yield running
    finally:
        running.stop_all()


async def redelivered(nats_url: str, tenant: str) -> int:
    """Redeliveries by embed_svc's lane for ``tenant`` (its server serves one test).

    Every delivery, first or not, takes a consumer sequence number; each stored
    message has one stream sequence. (``num_redelivered`` only counts messages
    still awaiting their ack, so it is back to 0 once the document is indexed.)
    """
    nc = await nats.connect(nats_url)
    try:
        assert CHUNKS_STREAM.name is not None
        durable = lane_durable("embed-svc", s.chunks_ready_for(tenant))
        info = await nc.jetstream().consumer_info(CHUNKS_STREAM.name, durable)
        assert info.delivered is not None
        return int((info.delivered.consumer_seq or 0) - (info.delivered.stream_seq or 0))
    finally:
        await nc.close()


async def test_embed_worker_killed_mid_document_still_indexes(
    cluster: Cluster, pgvector_database_url: str, shared_dir: Path
) -> None:
    await wait_ready(cluster.url, timeout_s=180)
    loop = asyncio.get_running_loop()
    tenant = f"kill-{uuid.uuid4().hex[:8]}"
    async with RagbusClient(cluster.url, await key_on(pgvector_database_url, tenant)) as client:
        doc_id = (await client.upload(shared_dir / "corpus" / "nodejs-api" / "fs.md"))["id"]

        deadline = loop.time() + 300
        while True:
            doc = await client.document(doc_id)
            done, total = doc["progress"]["done"], doc["progress"]["total"]
            if doc["status"] == "embedding" and 0 < done < total:
                break
            assert doc["status"] in ("uploaded", "parsing", "embedding"), doc
            assert loop.time() < deadline, f"never caught half embedded: {doc}"
            await asyncio.sleep(0.1)
        cluster.kill("embed_svc#0")
        killed_at = loop.time()
        at_kill = (await client.document(doc_id))["progress"]
        cluster.start("embed_svc")

        while (doc := await client.document(doc_id))["status"] != "indexed":
            assert doc["status"] == "embedding", doc
            assert loop.time() < killed_at + 300, f"not indexed 300 s after the kill: {doc}"
            await asyncio.sleep(0.5)
        recovery_s = loop.time() - killed_at

    assert doc["progress"]["done"] == doc["progress"]["total"] == doc["chunks"] == total
    conn = await asyncpg.connect(pgvector_database_url)
    try:
        vectors = await conn.fetchval(
            "SELECT count(*) FROM chunk_vectors WHERE tenant_id = $1 AND document_id = $2",
            tenant,
            uuid.UUID(doc_id),
        )
    finally:
        await conn.close()
    assert vectors == total
    redeliveries = await redelivered(cluster.env["NATS_URL"], tenant)
    print(
        f"\nembed_svc killed at {at_kill['done']}/{at_kill['total']} chunks;"
        f" indexed {recovery_s:.1f} s later (ack_wait {ACK_WAIT_S} s, includes model load"
        f" of the new process); {redeliveries} chunks.ready message(s) redelivered"
    )
    assert redeliveries >= 1
