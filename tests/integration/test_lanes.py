"""Tenant lanes (``embed_svc.tenant_lanes``) against a real JetStream work-queue stream.

Each test declares its own stream and subject family, so nothing it publishes
reaches ragbus's own consumers on the shared server.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import nats
import pytest
from faststream.nats import NatsBroker, NatsMessage
from nats.js.api import RetentionPolicy, StorageType, StreamConfig

from embed_svc.model_lock import ModelLock
from embed_svc.tenant_lanes import LaneSpec, TenantLanes
from ragbus.subscribers import raw_messages

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

MODEL_CALL_S = 0.1
"""Simulated model time per pulled batch."""


@dataclass
class Worker:
    """One replica: a broker, its lanes, and what its handler saw (in order)."""

    broker: NatsBroker
    lanes: TenantLanes
    handled: list[str] = field(default_factory=list)


@pytest.fixture
async def family(nats_url: str, unique_name: str) -> AsyncIterator[tuple[str, str]]:
    """A work-queue stream of its own: ``(stream, family)``."""
    stream, family = f"LANES_{unique_name.upper()}", f"lanes-{unique_name}.ready"
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(
        StreamConfig(
            name=stream,
            subjects=[f"{family}.>"],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
        )
    )
    yield stream, family
    await js.delete_stream(stream)
    await nc.close()


async def start_worker(nats_url: str, stream: str, family: str, **spec: float | int) -> Worker:
    broker = NatsBroker(nats_url)
    await broker.start()
    turns = ModelLock()
    worker = Worker(broker, None)  # type: ignore[arg-type]

    async def handle(items: list[dict], msg: NatsMessage) -> None:
        async with turns.turn():
            await asyncio.sleep(MODEL_CALL_S)
            worker.handled.extend(f"{item['tenant']}:{item['i']}" for item in items)
        for raw in raw_messages(msg):
            await raw.ack()

    lane_spec = LaneSpec(
        stream=stream,
        family=family,
        durable_prefix="lanes-test",
        ack_wait_s=30.0,
        max_deliver=3,
        batch_size=2,
        timeout_s=0.2,
        discover_every_s=0.05,
        **spec,  # type: ignore[arg-type]
    )
    worker.lanes = TenantLanes(lane_spec, handle)
    await worker.lanes.start(broker)
    return worker


async def stop_worker(worker: Worker) -> None:
    await worker.lanes.stop()
    await worker.broker.stop()


async def publish(nats_url: str, family: str, tenant: str, count: int) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for i in range(count):
        await js.publish(f"{family}.{tenant}", json.dumps({"tenant": tenant, "i": i}).encode())
    await nc.close()


async def wait_until(check, timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def wait_drained(nats_url: str, stream: str, timeout_s: float = 30.0) -> None:
    """Wait until the work-queue stream is empty: every message was acked."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        deadline = asyncio.get_running_loop().time() + timeout_s
        while (left := (await js.stream_info(stream)).state.messages) > 0:
            assert asyncio.get_running_loop().time() < deadline, f"{left} messages never acked"
            await asyncio.sleep(0.02)
    finally:
        await nc.close()


@pytest.mark.parametrize("pullers", [1, 2])
async def test_single_upload_is_served_before_another_tenants_backlog(
    nats_url: str, family: tuple[str, str], pullers: int
) -> None:
    stream, fam = family
    await publish(nats_url, fam, "big", 40)  # 20 batches of 2: ~2 s of "model" time
    worker = await start_worker(nats_url, stream, fam, pullers=pullers)
    try:
        await wait_until(lambda: len(worker.handled) >= 2)
        await publish(nats_url, fam, "small", 1)
        await wait_until(lambda: "small:0" in worker.handled)
        position = worker.handled.index("small:0")
        await wait_until(lambda: len(worker.handled) == 41)
    finally:
        await stop_worker(worker)
    # First come, first served would put it last (position 40); with lanes it waits
    # for the batch in progress and at most one more while its lane opens (and, with
    # two pullers per lane, the big lane's second pull already waiting for its turn).
    assert position <= 10, worker.handled
    assert sorted(worker.handled) == sorted([f"big:{i}" for i in range(40)] + ["small:0"])


@pytest.mark.parametrize("pullers", [1, 2])
async def test_replicas_share_each_lane_without_duplicates(
    nats_url: str, family: tuple[str, str], pullers: int
) -> None:
    stream, fam = family
    await publish(nats_url, fam, "acme", 20)
    await publish(nats_url, fam, "globex", 20)
    one = await start_worker(nats_url, stream, fam, pullers=pullers)
    two = await start_worker(nats_url, stream, fam, pullers=pullers)
    try:
        # Every message acked (a work queue deletes it then), so nothing is left to
        # deliver again; stop() below lets any handler still running finish first.
        await wait_drained(nats_url, stream)
    finally:
        await stop_worker(one)
        await stop_worker(two)
    everything = one.handled + two.handled
    expected = [f"{t}:{i}" for t in ("acme", "globex") for i in range(20)]
    assert sorted(everything) == sorted(expected)  # each exactly once
    assert one.handled and two.handled  # both replicas did work
    assert one.lanes.subjects == [] and two.lanes.subjects == []  # stop() closed them


async def test_idle_lanes_close_and_reopen_for_new_work(
    nats_url: str, family: tuple[str, str]
) -> None:
    stream, fam = family
    await publish(nats_url, fam, "acme", 3)
    worker = await start_worker(nats_url, stream, fam, idle_close_s=0.2)
    try:
        await wait_until(lambda: len(worker.handled) == 3)
        assert worker.lanes.subjects == [f"{fam}.acme"]
        await wait_until(lambda: worker.lanes.subjects == [])
        await publish(nats_url, fam, "acme", 2)
        await wait_until(lambda: len(worker.handled) == 5)
    finally:
        await stop_worker(worker)
    assert worker.handled == ["acme:0", "acme:1", "acme:2", "acme:0", "acme:1"]
