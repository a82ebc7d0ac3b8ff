"""The ingest sweeper against a real Postgres and nats-server.

Each test gets its own database (the sweeper reads every tenant) and its own
nats-server, so nothing another test left behind is swept or delivered.
"""

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest
from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig

from deploy.jetstream import stream_for
from ingest_svc.backlog import INGEST_DURABLE, JetStreamBacklog
from ingest_svc.sweeper import STOP_CHECK_S, SWEEP_LOCK_KEY, Sweeper
from ragbus.bus import EventPublisher
from ragbus.resources import Resources
from ragbus.runtime import declare_topology
from ragbus.settings import InfraSettings
from ragbus.stores.blobs import blob_key
from ragbus.stores.documents import DocumentRepository
from ragbus_tools.servers import NatsServer, drop_database, ensure_database
from schemas import ChunkingStrategy, DocumentFailed, DocumentStatus, DocumentUploaded
from schemas import subjects as s

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@dataclass
class World:
    resources: Resources
    documents: DocumentRepository
    pool: asyncpg.Pool
    publisher: EventPublisher
    nc: nats.NATS
    tenant: str


@pytest.fixture
async def world(
    postgres_url: str, nats_server_factory: Callable[..., NatsServer], tmp_path: Path
) -> AsyncIterator[World]:
    name = f"ragbus_sweep_{uuid.uuid4().hex[:10]}"
    database_url = await ensure_database(postgres_url, name)
    server = nats_server_factory(tmp_path / "nats")
    infra = InfraSettings(nats_url=server.url, database_url=database_url, data_dir=tmp_path)
    resources = Resources(infra)
    await declare_topology(server.url)
    broker = NatsBroker(server.url)
    await broker.start()
    nc = await nats.connect(server.url)
    try:
        yield World(
            resources,
            await resources.documents(),
            await resources.pool(),
            EventPublisher(broker),
            nc,
            f"sweep-{uuid.uuid4().hex[:8]}",
        )
    finally:
        await nc.close()
        await broker.stop()
        await resources.close()
        server.stop()
        await drop_database(postgres_url, name)


async def add_document(
    world: World, *, stored: bool, status: DocumentStatus, age_s: float, enqueued: bool = True
) -> uuid.UUID:
    """A document row in ``status`` last touched ``age_s`` seconds ago; ``enqueued``:
    its ``document.uploaded`` reached JetStream (False: its upload got no 202)."""
    doc_id = uuid.uuid4()
    data = f"# Stuck {doc_id}\n\nThe sweeper should find this text.\n".encode()
    key = blob_key(world.tenant, doc_id, "stuck.md") if stored else None
    if key is not None:
        await (await world.resources.blob_store()).put(key, data, content_type="text/markdown")
    await world.documents.create(
        world.tenant,
        doc_id,
        filename="stuck.md",
        content_type="text/markdown",
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        blob_key=key,
        metadata={"source": "test"},
        enqueued=enqueued,
    )
    if status != DocumentStatus.UPLOADED:
        assert await world.documents.set_status(world.tenant, doc_id, status)
    await world.pool.execute(
        "UPDATE documents SET updated_at = now() - make_interval(secs => $3)"
        " WHERE tenant_id = $1 AND id = $2",
        *(world.tenant, doc_id, age_s),
    )
    return doc_id


async def updated_at(world: World, doc_id: uuid.UUID):
    record = await world.documents.get(world.tenant, doc_id)
    assert record is not None
    return record.updated_at


async def collect(world: World, subject: str) -> Callable[[], Awaitable[list[Msg]]]:
    """Subscribe to ``subject``; the returned call ends it with every message published so far.

    Every publish the sweeper makes waits for JetStream's ack, and the server hands
    a message to core subscribers before the stream acks it; a PING sent after
    that is answered after those messages on this connection, so once ``flush``
    returns they are all in the subscription's queue. Nothing is waited for by time.
    """
    scoped = subject in s.TENANT_SCOPED  # a family: every tenant's subject of it
    sub = await world.nc.subscribe(s.every_tenant(subject) if scoped else subject)
    await world.nc.flush()

    async def published() -> list[Msg]:
        await world.nc.flush()
        received = [await sub.next_msg(timeout=1) for _ in range(sub.pending_msgs)]
        await sub.unsubscribe()
        return received

    return published


def awaiting(task: asyncio.Task, function: str) -> bool:
    """Whether ``task`` is suspended inside a call of ``function`` (an ``await`` chain)."""
    awaited: Any = task.get_coro()
    while awaited is not None:
        if getattr(getattr(awaited, "cr_code", None), "co_name", None) == function:
            return True
        awaited = getattr(awaited, "cr_await", None)
    return False


async def wait_until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_sweep_republishes_stale_work_and_fails_lost_inline_uploads(world: World) -> None:
    stuck = await add_document(world, stored=True, status=DocumentStatus.UPLOADED, age_s=3600)
    stuck_parsing = await add_document(world, stored=True, status=DocumentStatus.PARSING, age_s=900)
    await world.documents.set_chunking(world.tenant, stuck_parsing, ChunkingStrategy.SENTENCE)
    inline = await add_document(world, stored=False, status=DocumentStatus.PARSING, age_s=3600)
    fresh = await add_document(world, stored=True, status=DocumentStatus.UPLOADED, age_s=5)
    stuck_before = await updated_at(world, stuck)
    fresh_before = await updated_at(world, fresh)
    uploaded = await collect(world, s.DOCUMENT_UPLOADED)
    failed = await collect(world, s.DOCUMENT_FAILED)

    sweeper = Sweeper(world.pool, world.documents, world.publisher, stale_after_s=300)
    report = await sweeper.sweep_once()

    assert (report.locked, report.republished, report.lost, report.errors) == (True, 2, 1, 0)
    uploads, failures = await uploaded(), await failed()
    events = {DocumentUploaded.model_validate_json(m.data).document_id: m for m in uploads}
    assert len(uploads) == 2 and set(events) == {stuck, stuck_parsing}
    event = DocumentUploaded.model_validate_json(events[stuck].data)
    record = await world.documents.get(world.tenant, stuck)
    assert record is not None
    assert (event.tenant_id, event.filename, event.blob_key, event.sha256) == (
        world.tenant,
        "stuck.md",
        record.blob_key,
        record.sha256,
    )
    assert (event.size_bytes, event.metadata, event.version) == (
        record.size_bytes,
        {"source": "test"},
        1,
    )
    # Re-chunked the way each upload asked, not by the default.
    assert event.chunking is None
    rescued = DocumentUploaded.model_validate_json(events[stuck_parsing].data)
    assert rescued.chunking == ChunkingStrategy.SENTENCE
    assert events[stuck].headers is not None
    assert events[stuck].headers["Nats-Msg-Id"].startswith(f"{stuck}:1:sweep:")
    # Touched, so the next re-publish waits another period; the status is the handler's.
    assert record.status == DocumentStatus.UPLOADED
    assert record.updated_at > stuck_before
    assert await updated_at(world, fresh) == fresh_before

    lost = await world.documents.get(world.tenant, inline)
    assert lost is not None
    assert (lost.status, lost.error_code) == (DocumentStatus.FAILED, "lost_inline_upload")
    assert "inline" in (lost.error or "") and "upload it again" in (lost.error or "")
    assert [DocumentFailed.model_validate_json(m.data).code for m in failures] == [
        "lost_inline_upload"
    ]

    # Just touched: the next round leaves them alone.
    again = await sweeper.sweep_once()
    assert (again.republished, again.lost) == (0, 0)


async def test_sweep_deletes_stale_uploads_never_enqueued(world: World) -> None:
    abandoned = await add_document(
        world, stored=True, status=DocumentStatus.UPLOADED, age_s=3600, enqueued=False
    )
    retried_soon = await add_document(
        world, stored=True, status=DocumentStatus.UPLOADED, age_s=5, enqueued=False
    )
    uploaded = await collect(world, s.DOCUMENT_UPLOADED)
    report = await Sweeper(world.pool, world.documents, world.publisher).sweep_once()
    assert (report.abandoned, report.republished, report.errors) == (1, 0, 0)
    assert await world.documents.get(world.tenant, abandoned) is None
    assert await world.documents.get(world.tenant, retried_soon) is not None
    assert await uploaded() == []


async def test_only_one_replica_sweeps_at_a_time(world: World) -> None:
    await add_document(world, stored=True, status=DocumentStatus.EMBEDDING, age_s=3600)
    sweeper = Sweeper(world.pool, world.documents, world.publisher, stale_after_s=300)
    async with world.pool.acquire() as other_replica:
        assert await other_replica.fetchval("SELECT pg_try_advisory_lock($1)", SWEEP_LOCK_KEY)
        try:
            assert (await sweeper.sweep_once()).locked is False
        finally:
            await other_replica.execute("SELECT pg_advisory_unlock($1)", SWEEP_LOCK_KEY)
    report = await sweeper.sweep_once()
    assert (report.locked, report.republished) == (True, 1)


async def test_background_sweeper_runs_and_stops(world: World) -> None:
    stuck = await add_document(world, stored=True, status=DocumentStatus.UPLOADED, age_s=3600)
    arrived: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()

    async def on_msg(msg: Msg) -> None:
        if not arrived.done():
            arrived.set_result(msg)

    sub = await world.nc.subscribe(s.every_tenant(s.DOCUMENT_UPLOADED), cb=on_msg)
    sweeper = Sweeper(
        world.pool, world.documents, world.publisher, interval_s=0.2, stale_after_s=300
    )
    task = sweeper.start()
    try:
        msg = await asyncio.wait_for(arrived, 10)
    finally:
        await asyncio.wait_for(sweeper.stop(), 5)
        await sub.unsubscribe()
    assert task.done()
    assert DocumentUploaded.model_validate_json(msg.data).document_id == stuck


async def test_background_sweeper_ends_when_the_pool_closes(world: World) -> None:
    # What ends it in a service: the runtime drains the broker, then closes Resources.
    await add_document(world, stored=True, status=DocumentStatus.UPLOADED, age_s=3600)
    uploaded = await collect(world, s.DOCUMENT_UPLOADED)
    sweeper = Sweeper(world.pool, world.documents, world.publisher, interval_s=30)
    task = sweeper.start()
    await wait_until(lambda: awaiting(task, "_sleep"))  # waiting out its first interval
    await world.resources.close()
    # Ended within a stop check (STOP_CHECK_S) of the close, long before the 30 s
    # interval was out, without sweeping (the stale document was not re-published).
    await asyncio.wait_for(task, STOP_CHECK_S + 4)
    assert task.done() and task.exception() is None
    assert await uploaded() == []


async def test_documents_whose_work_is_still_queued_are_deferred(world: World) -> None:
    waiting = await add_document(world, stored=True, status=DocumentStatus.UPLOADED, age_s=3600)
    queued = await add_document(world, stored=True, status=DocumentStatus.EMBEDDING, age_s=3600)
    js = world.nc.jetstream()
    uploads = await js.pull_subscribe(
        s.every_tenant(s.DOCUMENT_UPLOADED),
        durable=INGEST_DURABLE,
        stream=stream_for(s.DOCUMENT_UPLOADED),
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
    )
    # someone's upload, not yet delivered
    await js.publish(s.subject_for(s.DOCUMENT_UPLOADED, "acme"), b"{}")
    await js.publish(s.chunks_ready_for(world.tenant), b"{}")  # this tenant's pending batch
    sweeper = Sweeper(
        world.pool,
        world.documents,
        world.publisher,
        stale_after_s=300,
        backlog=JetStreamBacklog(world.publisher.jetstream),
    )

    before = await updated_at(world, waiting)
    report = await sweeper.sweep_once()
    assert (report.deferred, report.republished) == (2, 0)
    assert await updated_at(world, waiting) == before  # untouched: still stale next round

    # The queues drain and the documents are still stale: now they are rescued.
    for msg in await uploads.fetch(1, timeout=5):
        await msg.ack()
    chunks = stream_for(s.CHUNKS_READY + ".x")
    await js.purge_stream(chunks, subject=s.chunks_ready_for(world.tenant))
    uploaded = await collect(world, s.DOCUMENT_UPLOADED)
    report = await sweeper.sweep_once()
    published = await uploaded()
    assert (report.deferred, report.republished) == (0, 2)
    rescued = [DocumentUploaded.model_validate_json(m.data).document_id for m in published]
    assert sorted(rescued) == sorted([waiting, queued])
