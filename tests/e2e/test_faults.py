"""Fault tests: replicas, a poison message, Postgres and nats-server going away.

Two replicas of ingest_svc and of embed_svc and the gateway run as separate OS
processes against a private nats-server (JetStream, ``sync_interval: always``) and
a private Postgres (pgserver, pgvector), so the tests can stop and restart both.
The tests share the processes and run in file order; each uses its own tenant.
Documents are short (one chunk each) to keep embedding time small.

Settings cut for the test: ingest ack wait 3 s and 3 deliveries (a poison
message dies in about 10 s), embed ack wait 10 s and one batch per pull (so both
replicas get some, and a killed one's batch comes back soon), heartbeats every
second.
"""

import asyncio
import mimetypes
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import nats
import pytest

from deploy.jetstream import CHUNKS_STREAM, DOCUMENTS_STREAM
from embed_svc.tenant_lanes import lane_durable
from ingest_svc.chunking import ChunkingConfig, chunk_document
from ingest_svc.parsing import parse_document
from ingest_svc.settings import IngestSettings
from ragbus.dead_letters import DeadLetterQueue, StoredDeadLetter
from ragbus.embedding import get_embedder
from ragbus.settings import InfraSettings
from ragbus_tools.client import RagbusClient
from ragbus_tools.servers import NatsServer, PostgresServer, ensure_database, start_postgres
from schemas import subjects as s
from schemas.dead_letters import DeadLetterReason
from tests.credentials import key_on
from tests.e2e.cluster import Cluster, cluster_env
from tests.e2e.stack import free_port, wait_final, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

WORDS = "ledger harbor quartz meadow signal copper lantern orbit velvet summit".split()


def short_doc(i: int) -> bytes:
    """About 80 words (one chunk), different for every ``i``."""
    topic = f"{WORDS[i % len(WORDS)]} {WORDS[(i // len(WORDS)) % len(WORDS)]} {i}"
    lines = [f"# Notes on {topic}", ""]
    lines += [
        f"Item {n} of the {topic} notes records step {n * i} of the procedure." for n in range(8)
    ]
    return "\n".join(lines).encode()


class Servers:
    """The module's nats-server and Postgres, replaceable after a restart."""

    def __init__(self, nats_server: NatsServer, pg: PostgresServer, data_dir: Path) -> None:
        self.nats = nats_server
        self.pg = pg
        self.data_dir = data_dir

    def restart_postgres(self) -> None:
        self.pg = start_postgres(self.data_dir)


@pytest.fixture(scope="module")
async def servers(nats_server_factory, tmp_path_factory) -> AsyncIterator[Servers]:
    data_dir = tmp_path_factory.mktemp("faults")
    nats_server = nats_server_factory(data_dir / "nats", sync_always=True)
    running = Servers(nats_server, start_postgres(data_dir), data_dir)
    try:
        yield running
    finally:
        running.pg.stop()


@pytest.fixture(scope="module")
async def cluster(servers: Servers, tmp_path_factory) -> AsyncIterator[tuple[Cluster, str]]:
    database_url = await ensure_database(servers.pg.url, "ragbus_faults")
    port = free_port()
    env = cluster_env(servers.nats.url, database_url, servers.data_dir, port)
    env |= {
        "RAGBUS_INGEST_ACK_WAIT_S": "3",
        "RAGBUS_INGEST_HEARTBEAT_S": "1",
        "RAGBUS_INGEST_MAX_DELIVER": "3",
        "RAGBUS_EMBED_HEARTBEAT_S": "1",
        "RAGBUS_EMBED_ACK_WAIT_S": "10",
        "RAGBUS_EMBED_BATCH_MESSAGES": "1",
    }
    running = Cluster(f"http://127.0.0.1:{port}", env, servers.data_dir)
    for module in ("ingest_svc", "embed_svc"):
        for replica in (0, 1):
            running.start(module, replica)
    running.start("gateway")
    try:
        await wait_ready(running.url, timeout_s=180)
        yield running, database_url
    finally:
        running.stop_all()


Sources = dict[str, tuple[str, bytes]]
"""Document id -> the file name and bytes uploaded for it."""
CountChunks = Callable[[str, bytes], int]


@pytest.fixture(scope="module")
async def count_chunks() -> CountChunks:
    """How many chunks ingest_svc cuts a file into, counted here with its own functions.

    Same parser, chunker, model tokenizer and chunk sizes as the cluster's ingest_svc
    (both read them from the environment), so the count does not come from the
    pipeline under test.
    """
    embedder = get_embedder(InfraSettings())
    await asyncio.to_thread(embedder.warm_up)
    config = ChunkingConfig(
        max_tokens=embedder.max_tokens, overlap_tokens=IngestSettings().overlap_tokens
    )

    def count(filename: str, data: bytes) -> int:
        parsed = parse_document(data, filename, mimetypes.guess_type(filename)[0])
        return len(chunk_document(parsed, embedder.tokenizer, config))

    return count


async def upload_all(client: RagbusClient, docs: range) -> Sources:
    files = [(f"n{i}.md", short_doc(i)) for i in docs]
    uploaded = await asyncio.gather(*(client.upload_bytes(name, data) for name, data in files))
    return {d["id"]: file for d, file in zip(uploaded, files, strict=True)}


async def assert_indexed_once(
    database_url: str,
    tenant: str,
    docs: dict[str, dict],
    sources: Sources,
    count_chunks: CountChunks,
) -> int:
    """Every document indexed with one vector per chunk of its file, each stored once.

    The chunks expected are counted from the uploaded bytes (``count_chunks``), not
    read back from the pipeline. The vector table's key is ``(tenant_id, id)``, so
    ids never repeat there; a chunk stored twice under another id repeats its
    ``(document, version, chunk_index)``, which is what is counted here.

    Returns:
        The tenant's chunk total.
    """
    assert {d["status"] for d in docs.values()} == {"indexed"}, docs
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT document_id, version, chunk_index, count(*) AS points FROM chunk_vectors"
            " WHERE tenant_id = $1 GROUP BY document_id, version, chunk_index",
            tenant,
        )
    finally:
        await conn.close()
    stored: dict[str, dict[tuple[int, int], int]] = {}
    for row in rows:
        points = stored.setdefault(str(row["document_id"]), {})
        points[(row["version"], row["chunk_index"])] = row["points"]
    assert set(stored) == set(docs), "vectors of a document that is not indexed, or none"
    total = 0
    for doc_id, doc in docs.items():
        expected = count_chunks(*sources[doc_id])
        assert doc["chunks"] == expected, (doc_id, expected, doc)
        once_each = {(doc["version"], index): 1 for index in range(expected)}
        assert stored[doc_id] == once_each, (doc_id, stored[doc_id], doc)
        total += expected
    return total


async def in_flight(database_url: str, tenant: str) -> int:
    """The tenant's documents not yet final, read straight from Postgres."""
    conn = await asyncpg.connect(database_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM documents WHERE tenant_id = $1"
                " AND status NOT IN ('indexed', 'failed', 'deleted')",
                tenant,
            )
        )
    finally:
        await conn.close()


async def retries(procs: Cluster) -> float:
    """Transient failures so far (retried in place or nak'ed), every ingest and embed replica."""
    total = 0.0
    for name in procs.procs:
        if name.startswith(("ingest_svc", "embed_svc")):
            for (sample, labels), value in (await procs.metrics(name)).items():
                if sample == "ragbus_messages_total" and dict(labels)["outcome"] in (
                    "retry",
                    "nak",
                ):
                    total += value
    return total


def is_embed_lane(consumer: str) -> bool:
    return consumer.startswith("embed-svc") and consumer != "embed-svc-delete"


async def test_two_replicas_of_ingest_and_embed_share_the_work_without_duplicates(
    cluster: tuple[Cluster, str], count_chunks: CountChunks
) -> None:
    procs, database_url = cluster
    tenant = f"rep-{uuid.uuid4().hex[:8]}"
    # 32 uploads: with 16, a replica that parsed fast took all of them once in a
    # loaded run (each holds 4 at a time and pulls again as soon as one is done).
    documents = 32
    async with RagbusClient(procs.url, await key_on(database_url, tenant)) as client:
        sources = await upload_all(client, range(documents))
        docs = await wait_final(client, list(sources), 300)
    chunks = await assert_indexed_once(database_url, tenant, docs, sources, count_chunks)
    ingest = [await procs.acked(f"ingest_svc#{r}", lambda c: c == "ingest-svc") for r in (0, 1)]
    embed = [await procs.acked(f"embed_svc#{r}", is_embed_lane) for r in (0, 1)]
    print(f"\n{documents} documents, {chunks} chunks; ingest acks {ingest}, embed {embed}")
    assert min(ingest) > 0 and min(embed) > 0, (ingest, embed)
    assert sum(ingest) == documents  # each upload handled once
    assert sum(embed) == documents  # one chunks.ready batch per short document, each once


async def dead_letters(nats_url: str, subject: str) -> list[StoredDeadLetter]:
    nc = await nats.connect(nats_url)
    try:
        return [
            e
            for e in await DeadLetterQueue(nc.jetstream()).entries()
            if e.letter.original_subject == subject
        ]
    finally:
        await nc.close()


async def test_poison_message_is_dead_lettered_and_other_documents_keep_flowing(
    cluster: tuple[Cluster, str], servers: Servers, count_chunks: CountChunks
) -> None:
    procs, database_url = cluster
    tenant = f"poison-{uuid.uuid4().hex[:8]}"
    nc = await nats.connect(servers.nats.url)
    uploaded = s.subject_for(s.DOCUMENT_UPLOADED, tenant)
    ack = await nc.jetstream().publish(
        uploaded,
        b'{"tenant_id": "' + tenant.encode() + b'", "filename": ["not a name"]}',
    )
    await nc.close()
    async with RagbusClient(procs.url, await key_on(database_url, tenant)) as client:
        sources = await upload_all(client, range(100, 104))
        empty = (await client.upload_bytes("empty.md", b"   \n"))["id"]
        docs = await wait_final(client, [*sources, empty], 120)
    failed = docs.pop(empty)
    assert (failed["status"], failed["error_code"]) == ("failed", "empty_document")
    await assert_indexed_once(database_url, tenant, docs, sources, count_chunks)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while not [
        e
        for e in await dead_letters(servers.nats.url, uploaded)
        if e.letter.tenant_id == tenant and e.letter.reason == DeadLetterReason.INVALID_EVENT
    ]:
        assert loop.time() < deadline, "poison message never dead-lettered"
        await asyncio.sleep(0.5)
    mine = [
        e.letter
        for e in await dead_letters(servers.nats.url, uploaded)
        if e.letter.tenant_id == tenant
    ]
    by_reason = {letter.reason: letter for letter in mine}
    assert len(mine) == 2, mine
    poison = by_reason[DeadLetterReason.INVALID_EVENT]  # refused on its first delivery
    assert (poison.original_stream, poison.original_sequence) == (DOCUMENTS_STREAM.name, ack.seq)
    assert (poison.consumer, poison.deliveries) == ("ingest-svc", 1)
    bad = by_reason[DeadLetterReason.PERMANENT_ERROR]
    assert (bad.error_code, bad.consumer, bad.deliveries) == ("empty_document", "ingest-svc", 1)


async def test_postgres_unavailable_for_ten_seconds_recovers_without_help(
    cluster: tuple[Cluster, str], servers: Servers, count_chunks: CountChunks
) -> None:
    procs, database_url = cluster
    tenant = f"pg-{uuid.uuid4().hex[:8]}"
    loop = asyncio.get_running_loop()
    retries_before = await retries(procs)
    async with RagbusClient(procs.url, await key_on(database_url, tenant)) as client:
        sources = await upload_all(client, range(200, 216))
        pending = await in_flight(database_url, tenant)
        servers.pg.stop()
        stopped_at = loop.time()
        await asyncio.sleep(10)  # the outage itself, not a wait for something
        servers.restart_postgres()
        docs = await wait_final(client, list(sources), 180)
        recovered_s = loop.time() - stopped_at
    await assert_indexed_once(database_url, tenant, docs, sources, count_chunks)
    retried = await retries(procs) - retries_before
    print(
        f"\nPostgres down 10 s with {pending}/16 documents in flight: {retried:.0f} retries,"
        f" all indexed {recovered_s:.1f} s after it stopped"
    )
    assert pending > 0 and retried > 0


async def test_nats_server_restarted_mid_ingest_loses_no_acknowledged_upload(
    cluster: tuple[Cluster, str], servers: Servers, count_chunks: CountChunks
) -> None:
    procs, database_url = cluster
    tenant = f"nats-{uuid.uuid4().hex[:8]}"
    loop = asyncio.get_running_loop()
    async with RagbusClient(procs.url, await key_on(database_url, tenant)) as client:
        sources = await upload_all(client, range(300, 316))  # every one answered 202
        pending = await in_flight(database_url, tenant)
        servers.nats.kill()  # a crash, not a clean stop
        killed_at = loop.time()
        servers.nats.start()
        docs = await wait_final(client, list(sources), 240)
        recovered_s = loop.time() - killed_at
    await assert_indexed_once(database_url, tenant, docs, sources, count_chunks)
    print(
        f"\nnats-server killed with {pending}/16 acknowledged uploads in flight:"
        f" all indexed {recovered_s:.1f} s later"
    )
    assert pending > 0


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


async def test_embed_replica_sigkilled_during_300_documents_loses_and_doubles_nothing(
    cluster: tuple[Cluster, str], servers: Servers, count_chunks: CountChunks
) -> None:
    procs, database_url = cluster
    tenant = f"kill-{uuid.uuid4().hex[:8]}"
    loop = asyncio.get_running_loop()
    limit = asyncio.Semaphore(16)

    files = {i: (f"k{i}.md", short_doc(i)) for i in range(1000, 1300)}

    async def upload(client: RagbusClient, i: int) -> str:
        async with limit:
            return str((await client.upload_bytes(*files[i]))["id"])

    async with RagbusClient(procs.url, await key_on(database_url, tenant)) as client:
        uploads = asyncio.gather(*(upload(client, i) for i in files))
        deadline = loop.time() + 300
        while (indexed_at_kill := await count_indexed(database_url, tenant)) < 30:
            # Uploads may all be accepted before 30 are embedded (a loaded machine):
            # the kill still lands mid-ingest. A failed upload ends the test here.
            if uploads.done() and (error := uploads.exception()) is not None:
                raise error
            assert loop.time() < deadline, "embedding never started"
            await asyncio.sleep(0.1)
        procs.kill("embed_svc#0")
        killed_at = loop.time()
        procs.start("embed_svc", 0)
        ids = await uploads
        docs = await wait_final(client, ids, 400)
        recovery_s = loop.time() - killed_at
    sources = {doc_id: files[i] for doc_id, i in zip(ids, files, strict=True)}
    chunks = await assert_indexed_once(database_url, tenant, docs, sources, count_chunks)
    nc = await nats.connect(servers.nats.url)
    try:
        lane = lane_durable("embed-svc", s.chunks_ready_for(tenant))
        info = await nc.jetstream().consumer_info(CHUNKS_STREAM.name or "", lane)
    finally:
        await nc.close()
    assert info.delivered is not None
    redeliveries = int(info.delivered.consumer_seq or 0) - len(ids)  # one batch per document
    print(
        f"\nembed_svc#0 SIGKILLed at {indexed_at_kill}/300 documents indexed and restarted:"
        f" 300 documents, {chunks} chunks, {chunks} points, 0 duplicates;"
        f" {redeliveries} batch redelivery(ies); all indexed {recovery_s:.1f} s after the kill"
    )
    assert len(docs) == 300 and chunks == 300
