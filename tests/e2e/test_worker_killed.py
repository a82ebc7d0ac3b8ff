"""A worker process killed mid-document: the document still reaches ``indexed``.

ingest_svc, embed_svc and the gateway run as separate OS processes (like
``test_multiprocess.py``) on a private nats-server, sharing vectors through
pgvector. embed_svc is SIGKILLed while a large document is half embedded; its
un-acked batches are redelivered after ``ack_wait`` to a fresh embed_svc process.
The ack wait is cut to 10 s (heartbeats every 3 s) to keep the test short, and
embed_svc pulls one 64-chunk batch at a time so progress moves in small steps.
"""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import asyncpg
import nats
import pytest

from deploy.jetstream import CHUNKS_STREAM
from ragbus.client import RagbusClient
from ragbus.infra import NatsServer
from ragbus.lanes import lane_durable
from schemas import subjects as s
from tests.e2e.stack import free_port, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

ACK_WAIT_S = 10


@dataclass
class Cluster:
    """The service processes of one test, started and stopped by name."""

    url: str
    nats_url: str
    env: dict[str, str]
    data_dir: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: list[IO[bytes]] = field(default_factory=list)

    def start(self, name: str) -> subprocess.Popen:
        log = (self.data_dir / f"{name}-{len(self.logs)}.log").open("wb")
        self.logs.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", name], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self.logs:
            log.close()


@pytest.fixture
def cluster(
    nats_server_factory: Callable[..., NatsServer],
    pgvector_database_url: str,
    tmp_path: Path,
) -> Iterator[Cluster]:
    nats_server = nats_server_factory(tmp_path / "nats")
    port = free_port()
    env = {
        **os.environ,
        "NATS_URL": nats_server.url,
        "DATABASE_URL": pgvector_database_url,
        "RAGBUS_VECTOR_STORE": "pgvector",
        "RAGBUS_DATA_DIR": str(tmp_path),
        "RAGBUS_GATEWAY_PORT": str(port),
        "RAGBUS_EMBED_ACK_WAIT_S": str(ACK_WAIT_S),
        "RAGBUS_EMBED_HEARTBEAT_S": "3",
        "RAGBUS_EMBED_BATCH_MESSAGES": "1",
        "RAGBUS_INGEST_ACK_WAIT_S": str(ACK_WAIT_S),
        "RAGBUS_INGEST_HEARTBEAT_S": "3",
    }
    running = Cluster(f"http://127.0.0.1:{port}", nats_server.url, env, tmp_path)
    for name in ("ingest_svc", "embed_svc", "gateway"):
        running.start(name)
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
    async with RagbusClient(cluster.url, tenant) as client:
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
        cluster.kill("embed_svc")
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
    redeliveries = await redelivered(cluster.nats_url, tenant)
    print(
        f"\nembed_svc killed at {at_kill['done']}/{at_kill['total']} chunks;"
        f" indexed {recovery_s:.1f} s later (ack_wait {ACK_WAIT_S} s, includes model load"
        f" of the new process); {redeliveries} chunks.ready message(s) redelivered"
    )
    assert redeliveries >= 1
