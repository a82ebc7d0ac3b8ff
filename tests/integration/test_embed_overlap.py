"""embed_svc's lane handler double-buffers: the next pull embeds while one commits,
and a poison message in a pull is dead-lettered without holding the pull's others.

Runs ``embed_svc.pull_batches.PullBatches`` on tenant lanes over a work-queue stream
of the test's own, with a fake embed service whose commits are slow. Acks are
observed on the stream: a work-queue stream deletes a message once it is acked.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from itertools import pairwise

import nats
import numpy as np
import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig

from deploy.jetstream import ensure_streams
from embed_svc.handlers import embed_handler
from embed_svc.model_lock import ModelLock
from embed_svc.pull_batches import PullBatches
from embed_svc.settings import EmbedSettings
from embed_svc.tenant_lanes import LaneSpec, TenantLanes
from ragbus.dead_letters import DeadLetterQueue
from ragbus.embedding import Vectors
from schemas import ChunksReady
from schemas.dead_letters import DeadLetterReason
from schemas.documents import ChunkPayload

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

MESSAGES = 6
PULL = 2
EMBED_S = 0.1
COMMIT_S = 0.3


@dataclass
class SlowCommits:
    """Stands in for ``EmbedService``: instant checks, quick model, slow commits."""

    js: JetStreamContext
    stream: str
    seq: dict[int, int] = field(default_factory=dict)  # batch_index -> stream sequence
    embeds: list[tuple[float, float, list[int]]] = field(default_factory=list)
    commits: dict[int, tuple[float, float]] = field(default_factory=dict)
    acked_early: list[int] = field(default_factory=list)
    started: int = 0  # model calls begun
    commit_s: float = COMMIT_S

    async def wanted(self, batches: list[ChunksReady]) -> list[bool]:
        return [True] * len(batches)

    async def embed(
        self, batches: list[ChunksReady], trace_parent: object = None, wanted: object = None
    ) -> list[Vectors]:
        started = time.monotonic()
        self.started += 1
        await asyncio.sleep(EMBED_S)
        self.embeds.append((started, time.monotonic(), [b.batch_index for b in batches]))
        return [np.zeros((len(b.chunks), 4), dtype=np.float32) for b in batches]

    async def commit(self, batch: ChunksReady, vectors: Vectors) -> None:
        assert batch.batch_index not in self.commits, "committed twice"
        started = time.monotonic()
        await asyncio.sleep(self.commit_s)
        if not await self._pending(batch.batch_index):
            self.acked_early.append(batch.batch_index)
        self.commits[batch.batch_index] = (started, time.monotonic())

    async def fail(self, batch: ChunksReady, exc: Exception) -> None:
        raise AssertionError(f"batch {batch.batch_index} failed: {exc}")

    async def _pending(self, index: int) -> bool:
        try:
            await self.js.get_msg(self.stream, self.seq[index])
        except nats.js.errors.NotFoundError:
            return False
        return True


@pytest.fixture
async def stream(nats_url: str, unique_name: str) -> AsyncIterator[tuple[JetStreamContext, str]]:
    name = f"OVERLAP_{unique_name.upper()}"
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    config = StreamConfig(
        name=name,
        subjects=[f"overlap-{unique_name}.ready.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.MEMORY,
    )
    await js.add_stream(config)
    yield js, name
    await js.delete_stream(name)
    await nc.close()


async def publish_batches(js: JetStreamContext, stream: str, service: SlowCommits) -> str:
    """Publish ``MESSAGES`` one-chunk batches of one document; returns the family."""
    info = await js.stream_info(stream)
    family = info.config.subjects[0].removesuffix(".>")  # type: ignore[index]
    document = uuid.uuid4()
    for i in range(MESSAGES):
        text = f"chunk {i}"
        chunk = ChunkPayload(chunk_id=uuid.uuid4(), index=i, text=text, token_count=2)
        event = ChunksReady(
            tenant_id="acme",
            document_id=document,
            version=1,
            filename="a.txt",
            batch_index=i,
            batch_count=MESSAGES,
            total_chunks=MESSAGES,
            chunks=[chunk],
        )
        ack = await js.publish(f"{family}.acme", event.model_dump_json().encode())
        service.seq[i] = ack.seq
    return family


async def open_lanes(
    nats_url: str,
    stream: str,
    family: str,
    service: SlowCommits,
    pullers: int,
    pull: int = PULL,
) -> tuple[NatsBroker, TenantLanes]:
    spec = LaneSpec(
        stream=stream,
        family=family,
        durable_prefix="overlap-test",
        ack_wait_s=30.0,
        max_deliver=3,
        batch_size=pull,
        timeout_s=0.05,
        discover_every_s=0.05,
        pullers=pullers,
    )
    settings = EmbedSettings(heartbeat_s=1.0, max_deliver=3)
    broker = NatsBroker(nats_url, graceful_timeout=10.0)  # as ragbus.runtime's brokers
    await broker.start()
    pulls = PullBatches(service, ModelLock(), settings)  # type: ignore[arg-type]
    lanes = TenantLanes(spec, embed_handler(pulls))
    await lanes.start(broker)
    return broker, lanes


async def run_lane(nats_url: str, js: JetStreamContext, stream: str, pullers: int) -> SlowCommits:
    service = SlowCommits(js, stream)
    family = await publish_batches(js, stream, service)
    broker, lanes = await open_lanes(nats_url, stream, family, service, pullers)
    try:
        deadline = time.monotonic() + 30
        while (await js.stream_info(stream)).state.messages:  # each ack deletes one
            assert time.monotonic() < deadline, "not every message was acked"
            await asyncio.sleep(0.05)
        consumer = (await js.consumers_info(stream))[0]
    finally:
        await lanes.stop()
        await broker.stop()
    assert sorted(service.commits) == list(range(MESSAGES))  # each committed once
    assert service.acked_early == []  # no message was acked before its commit ended
    assert consumer.num_redelivered == 0 and consumer.num_ack_pending == 0
    calls = sorted(service.embeds)
    for (_, ended, _), (started, _, _) in pairwise(calls):
        assert started >= ended  # the model is used by one pull at a time
    return service


def overlapped(service: SlowCommits) -> bool:
    """Whether some pull's embedding started before the previous pull's commits ended."""
    calls = sorted(service.embeds)
    return any(
        later[0] < max(service.commits[i][1] for i in earlier[2])
        for earlier, later in pairwise(calls)
    )


async def test_next_pull_embeds_while_the_previous_one_commits(
    nats_url: str, stream: tuple[JetStreamContext, str]
) -> None:
    service = await run_lane(nats_url, *stream, pullers=2)
    assert overlapped(service), (service.embeds, service.commits)


async def test_one_puller_commits_before_it_pulls_again(
    nats_url: str, stream: tuple[JetStreamContext, str]
) -> None:
    service = await run_lane(nats_url, *stream, pullers=1)
    assert not overlapped(service), (service.embeds, service.commits)


async def test_stop_finishes_what_was_embedded_and_leaves_the_rest_queued(
    nats_url: str, stream: tuple[JetStreamContext, str]
) -> None:
    js, name = stream
    service = SlowCommits(js, name)
    family = await publish_batches(js, name, service)
    broker, lanes = await open_lanes(nats_url, name, family, service, pullers=2)
    try:
        deadline = time.monotonic() + 30
        while not service.started:  # the first pull is in the model
            assert time.monotonic() < deadline, "nothing was embedded"
            await asyncio.sleep(0.01)
        await lanes.stop()
        await broker.connection.flush()  # the acks sent, not only queued
        left = (await js.stream_info(name)).state.messages
    finally:
        await broker.stop()
    embedded = sorted(i for _, _, indexes in service.embeds for i in indexes)
    assert len(embedded) >= PULL  # the pull in the model when stop() began
    assert sorted(service.commits) == embedded  # whatever was embedded was committed...
    assert left == MESSAGES - len(embedded)  # ...and acked; the rest is still queued
    assert service.acked_early == []


async def test_a_poison_message_is_dead_lettered_and_its_pull_goes_on(
    nats_url: str, stream: tuple[JetStreamContext, str]
) -> None:
    js, name = stream
    await ensure_streams(js)  # the dead-letter stream
    service = SlowCommits(js, name, commit_s=0.0)
    info = await js.stream_info(name)
    family = info.config.subjects[0].removesuffix(".>")  # type: ignore[index]
    poison = await js.publish(f"{family}.acme", b'{"chunks": "not a batch"}')
    await publish_batches(js, name, service)
    broker, lanes = await open_lanes(nats_url, name, family, service, 1, pull=MESSAGES + 1)
    try:
        deadline = time.monotonic() + 30
        while (await js.stream_info(name)).state.messages:  # acks and the term delete them
            assert time.monotonic() < deadline, "the pull was held"
            await asyncio.sleep(0.05)
        consumer = (await js.consumers_info(name))[0]
    finally:
        await lanes.stop()
        await broker.stop()
    letters = [
        e.letter for e in await DeadLetterQueue(js).entries() if e.letter.original_stream == name
    ]
    assert [(x.reason, x.deliveries, x.original_sequence) for x in letters] == [
        (DeadLetterReason.INVALID_EVENT, 1, poison.seq)
    ]
    # every good message was embedded in the poison's own pull, committed once, and
    # acked on its first delivery: none waited for an ack wait or a backoff
    assert [indexes for _, _, indexes in service.embeds] == [list(range(MESSAGES))]
    assert sorted(service.commits) == list(range(MESSAGES))
    assert consumer.num_redelivered == 0 and consumer.num_ack_pending == 0
