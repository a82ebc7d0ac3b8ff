"""The ack policy of every subscriber (``ragbus.bus.settle``) against a real JetStream."""

import asyncio

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from ragbus.bus import settle
from ragbus.errors import PermanentError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def run_consumer(nats_url: str, name: str, behaviour, max_deliver: int, rounds: int):
    """Publish one message, then fetch and settle it up to ``rounds`` times."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    subject = f"{name}.work"
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"]))
    await js.publish(subject, b"payload")
    sub = await js.pull_subscribe(
        subject,
        durable=name,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=30, max_deliver=max_deliver),
    )
    deliveries: list[int] = []
    recorded: list[PermanentError] = []

    async def on_permanent(exc: PermanentError) -> None:
        recorded.append(exc)

    for _ in range(rounds):
        try:
            (msg,) = await sub.fetch(1, timeout=3)
        except nats.errors.TimeoutError:
            break
        deliveries.append(msg.metadata.num_delivered)

        async def work(n: int = len(deliveries)) -> None:
            await behaviour(n)

        await settle(msg, work, max_deliver=max_deliver, on_permanent=on_permanent)
    await asyncio.sleep(0.2)
    info = await js.consumer_info(name, name)
    await nc.close()
    return deliveries, recorded, info


async def test_transient_errors_nak_with_delay_then_ack(nats_url: str, unique_name: str) -> None:
    async def flaky(n: int) -> None:
        if n < 3:
            raise ConnectionError("postgres is restarting")

    deliveries, recorded, info = await run_consumer(
        nats_url, unique_name.upper(), flaky, max_deliver=5, rounds=5
    )
    assert deliveries == [1, 2, 3]
    assert recorded == []
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_permanent_error_is_recorded_and_terminated(nats_url: str, unique_name: str) -> None:
    async def bad_input(n: int) -> None:
        raise PermanentError("corrupt PDF: no xref table", code="parse_failed")

    deliveries, recorded, info = await run_consumer(
        nats_url, unique_name.upper(), bad_input, max_deliver=5, rounds=3
    )
    assert deliveries == [1]  # terminated: never redelivered
    assert [e.code for e in recorded] == ["parse_failed"]
    assert info.num_ack_pending == 0


async def test_last_delivery_turns_transient_into_recorded_failure(
    nats_url: str, unique_name: str
) -> None:
    async def always_down(n: int) -> None:
        raise TimeoutError("qdrant did not answer")

    deliveries, recorded, info = await run_consumer(
        nats_url, unique_name.upper(), always_down, max_deliver=2, rounds=4
    )
    assert deliveries == [1, 2]
    assert [e.code for e in recorded] == ["retries_exhausted"]
    assert "gave up after 2 deliveries: TimeoutError: qdrant did not answer" in str(recorded[0])
    assert info.num_ack_pending == 0
