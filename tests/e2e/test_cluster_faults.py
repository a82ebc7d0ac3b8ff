"""Faults on a 3-node JetStream cluster with every service replicated as processes.

Three nats-servers from the wheel form one cluster (``sync_interval: always``, R3
streams); ``ragbus up --processes`` runs two replicas of every service under the
supervisor, against real Postgres (pgvector) and the real embedding model. The
documents are SciFact abstracts, uploaded the way a client should: an upload
refused while a node or a gateway is gone is sent again until it is answered 202.

Settings cut for the test: ack waits 10 s with heartbeats every second (a killed
replica's work comes back soon), and the sweeper looks every 5 s for documents
stale for 30 s (an upload whose gateway died between commit and publish).
"""

import asyncio
import contextlib
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import nats
import pytest
from gjson import get as gjson_get

from deploy.jetstream import DOCUMENTS_STREAM, streams
from ragbus_tools.beir import read_corpus
from ragbus_tools.k8s_scaling import NATS_ACCOUNT, scaled_objects
from ragbus_tools.servers import ensure_database, start_postgres
from ragbus_tools.servers.nats_cluster import NatsCluster, start_nats_cluster
from ragbus_tools.servers.nats_server import NatsServer
from tests.e2e.cluster_stack import ProcessStack, Uploader, start_process_stack, wait_final
from tests.e2e.test_faults import CountChunks, assert_indexed_once, count_chunks

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]

__all__ = ["count_chunks"]  # the fixture, shared with test_faults

SETTINGS = {
    "RAGBUS_INGEST_ACK_WAIT_S": "10",
    "RAGBUS_INGEST_HEARTBEAT_S": "1",
    "RAGBUS_INGEST_SWEEP_INTERVAL_S": "5",
    "RAGBUS_INGEST_STALE_AFTER_S": "30",
    "RAGBUS_EMBED_ACK_WAIT_S": "10",
    "RAGBUS_EMBED_HEARTBEAT_S": "1",
    "RAGBUS_RETRIEVE_ACK_WAIT_S": "10",
}
REPLICAS = "ingest=2,embed=2,retrieve=2,generate=2"
SERVICES = ("ingest", "embed", "retrieve", "generate", "gateway")


@pytest.fixture(scope="module")
async def stack(tmp_path_factory) -> AsyncIterator[tuple[NatsCluster, ProcessStack, str]]:
    data_dir = tmp_path_factory.mktemp("cluster-faults")
    cluster = start_nats_cluster(data_dir, 3, authenticated=True)
    pg = start_postgres(data_dir)
    database_url = await ensure_database(pg.url, "ragbus_cluster")
    running = start_process_stack(data_dir, cluster, database_url, REPLICAS, 2, SETTINGS)
    started = time.monotonic()
    pids: list[int | None] = []
    try:
        await running.wait_all_ready(300)
        print(f"\n11 replicas ready {time.monotonic() - started:.1f} s after `ragbus up`")
        yield cluster, running, database_url
        pids = [r["pid"] for r in running.status()["replicas"]]
        print(f"\n{running.table()}")  # memory per replica after the tests, for sizing
    finally:
        stopping = time.monotonic()
        code = running.stop()
        drained_s = time.monotonic() - stopping
        cluster.stop()
        pg.stop()
    print(f"\nragbus up drained and exited {code} {drained_s:.1f} s after SIGTERM")
    if code != 0 or any(alive(pid) for pid in pids if pid):
        pytest.fail(f"ragbus up exited {code}, or replicas outlived it")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def count_indexed(database_url: str, tenant: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM documents WHERE tenant_id = $1 AND status = 'indexed'",
                tenant,
            )
        )
    finally:
        await conn.close()


async def until_indexed(database_url: str, tenant: str, count: int, uploads: asyncio.Task) -> int:
    """Wait until ``count`` of the tenant's documents are indexed (bounded)."""
    deadline = asyncio.get_running_loop().time() + 300
    while (indexed := await count_indexed(database_url, tenant)) < count:
        if uploads.done() and uploads.exception() is not None:
            raise uploads.exception()  # type: ignore[misc]
        assert asyncio.get_running_loop().time() < deadline, "indexing never started"
        await asyncio.sleep(0.2)
    return indexed


async def replicas_current(cluster: NatsCluster, timeout_s: float = 90.0) -> None:
    """Until every stream has a leader and every copy has caught up (bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        with contextlib.suppress(Exception):
            nc = await nats.connect(cluster.admin_urls, connect_timeout=2, max_reconnect_attempts=1)
            try:
                infos = [await nc.jetstream(timeout=3).stream_info(c.name or "") for c in streams()]
            finally:
                await nc.close()
            if all(
                i.cluster and i.cluster.leader and all(p.current for p in i.cluster.replicas or [])
                for i in infos
            ):
                return
        assert asyncio.get_running_loop().time() < deadline, "streams did not catch up"
        await asyncio.sleep(0.5)


async def node_down(node: NatsServer, seconds: float) -> tuple[float, float]:
    """SIGKILL ``node``, keep it down ``seconds``, start it again on its store."""
    node.kill()
    down = time.monotonic()
    await asyncio.sleep(seconds)  # the outage itself, not a wait for something
    await asyncio.to_thread(node.start)
    return down, time.monotonic()


@dataclass
class QueryProbe:
    """Asks a question every half second, through the gateways in turn."""

    gateways: list[str]
    tenant: str
    answers: list[tuple[float, int]] = field(default_factory=list)  # (sent, HTTP status or 0)
    errors: list[str] = field(default_factory=list)  # what failed without a status

    async def run(self, http: httpx.AsyncClient) -> None:
        """Ask until cancelled: each question in flight on its own, one sent every 0.5 s."""
        async with asyncio.TaskGroup() as group:
            for turn in range(100_000):
                group.create_task(self.ask(http, self.gateways[turn % len(self.gateways)]))
                await asyncio.sleep(0.5)

    async def ask(self, http: httpx.AsyncClient, url: str) -> None:
        body = {"question": "What does diffusion tensor imaging measure?", "cache": False}
        sent = time.monotonic()
        try:
            reply = await http.post(
                f"{url}/v1/query", json=body, headers={"X-Tenant-ID": self.tenant}, timeout=60
            )
            self.answers.append((sent, reply.status_code))
        except httpx.HTTPError as exc:
            self.answers.append((sent, 0))
            self.errors.append(type(exc).__name__)

    def tally(self, start: float = 0.0, end: float = float("inf")) -> tuple[int, int]:
        """Answered and failed queries sent in ``[start, end]``."""
        seen = [status for t, status in self.answers if start <= t <= end]
        ok = sum(1 for status in seen if status == 200)
        return ok, len(seen) - ok


def scifact(shared_dir: Path, start: int, count: int) -> list[tuple[str, str]]:
    docs = read_corpus(shared_dir / "datasets" / "scifact" / "corpus.jsonl", limit=start + count)
    return [(d.filename, d.content) for d in docs[start:]]


async def test_a_sigkilled_replica_is_back_in_bounded_time_and_no_message_is_lost(
    stack: tuple[NatsCluster, ProcessStack, str], shared_dir: Path, count_chunks: CountChunks
) -> None:
    _, procs, database_url = stack
    tenant = f"sup-{uuid.uuid4().hex[:8]}"
    uploader = Uploader(procs.gateways, tenant)
    async with httpx.AsyncClient(timeout=30) as http:
        ids = await asyncio.gather(
            *(uploader.upload(http, name, text) for name, text in scifact(shared_dir, 300, 24))
        )
        old = procs.kill("embed#0")
        back_s = await procs.wait_back("embed#0", old, timeout_s=120)
        docs = await wait_final(http, procs.gateways, {"X-Tenant-ID": tenant}, ids, 300)
    chunks = await assert_indexed_once(
        database_url, tenant, docs, uploader.acknowledged, count_chunks
    )
    restarts = procs.replica("embed#0")["restarts"]
    print(f"\nembed#0 SIGKILLed mid-ingest, ready again {back_s:.1f} s later; {chunks} chunks")
    assert restarts >= 1 and len(docs) == 24


async def test_300_documents_survive_a_node_the_stream_leader_and_a_replica_of_each_service(
    stack: tuple[NatsCluster, ProcessStack, str], shared_dir: Path, count_chunks: CountChunks
) -> None:
    cluster, procs, database_url = stack
    tenant = f"clu-{uuid.uuid4().hex[:8]}"
    uploader = Uploader(procs.gateways, tenant)
    probe = QueryProbe(procs.gateways, tenant)
    limit = asyncio.Semaphore(8)

    async def upload(name: str, text: str) -> str:
        async with limit:
            return await uploader.upload(http, name, text)

    async with httpx.AsyncClient(timeout=30) as http:
        started = time.monotonic()
        uploads = asyncio.ensure_future(
            asyncio.gather(*(upload(n, t) for n, t in scifact(shared_dir, 0, 300)))
        )
        queries = asyncio.create_task(probe.run(http))
        at_a = await until_indexed(database_url, tenant, 20, uploads)
        leader = await cluster.stream_leader(DOCUMENTS_STREAM.name or "")
        follower = next(node for node in cluster.nodes if node is not leader)
        window_a = await node_down(follower, 10)
        await replicas_current(cluster)
        at_b = await count_indexed(database_url, tenant)
        leader = await cluster.stream_leader(DOCUMENTS_STREAM.name or "")
        window_b = await node_down(leader, 10)
        await replicas_current(cluster)
        at_c = await count_indexed(database_url, tenant)
        killed = {f"{svc}#0": procs.kill(f"{svc}#0") for svc in SERVICES}
        back = await asyncio.gather(*(procs.wait_back(n, pid, 120) for n, pid in killed.items()))
        ids = await uploads
        docs = await wait_final(http, procs.gateways, {"X-Tenant-ID": tenant}, ids, 600)
        queries.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await queries
    elapsed = time.monotonic() - started
    chunks = await assert_indexed_once(
        database_url, tenant, docs, uploader.acknowledged, count_chunks
    )
    ok_a, failed_a = probe.tally(*window_a)
    ok_b, failed_b = probe.tally(*window_b)
    ok, failed = probe.tally()
    print(
        f"\n300 SciFact documents in {elapsed:.0f} s: {len(set(ids))} acknowledged, all indexed,"
        f" {chunks} chunks = {chunks} vectors, 0 duplicates; {uploader.refused} refused uploads"
        f" retried.\n(a) node {follower.server_name} down 10 s at {at_a} indexed: queries"
        f" {ok_a} answered, {failed_a} failed.\n(b) leader {leader.server_name} down 10 s at"
        f" {at_b} indexed: queries {ok_b} answered, {failed_b} failed.\n(c) at {at_c} indexed,"
        f" SIGKILLed {', '.join(killed)}; ready again after"
        f" {', '.join(f'{s:.1f}' for s in back)} s.\nQueries overall: {ok} answered,"
        f" {failed} failed (statuses {sorted(Counter(s for _, s in probe.answers).items())},"
        f" errors {sorted(Counter(probe.errors).items())})."
    )
    assert len(set(ids)) == 300 and at_c < 300
    assert ok_a > 0, "no query answered while a node was down"


async def test_keda_finds_every_scaled_consumer_in_the_running_cluster(
    stack: tuple[NatsCluster, ProcessStack, str],
) -> None:
    """Each generated ScaledObject's backlog, looked up in a node's /jsz as KEDA does."""
    cluster, _, _ = stack
    node = cluster.nodes[0]
    base = f"http://127.0.0.1:{node.http_port}"
    async with httpx.AsyncClient(timeout=10) as http:
        jsz = (await http.get(f"{base}/jsz?acc={NATS_ACCOUNT}&consumers=true&config=true")).json()
        streams_only = (await http.get(f"{base}/jsz?acc={NATS_ACCOUNT}&streams=true")).json()
    account = next(a for a in jsz["account_details"] if a["name"] == NATS_ACCOUNT)
    found = {}
    for obj in scaled_objects("prod", "ragbus"):
        trigger = obj["spec"]["triggers"][0]
        meta = trigger["metadata"]
        if trigger["type"] == "nats-jetstream":
            stream = next(s for s in account["stream_detail"] if s["name"] == meta["stream"])
            names = {c["name"] for c in stream.get("consumer_detail", [])}
            found[obj["metadata"]["name"]] = meta["consumer"] in names
        else:
            found[obj["metadata"]["name"]] = isinstance(
                gjson_get(streams_only, meta["valueLocation"]), int
            )
    print(f"\nKEDA's lookups on {node.server_name}: {found}")
    assert found == {"ingest": True, "embed": True, "retrieve": True, "generate": True}
