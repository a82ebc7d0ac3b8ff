"""The ack policy of every subscriber (``ragbus.bus.settle``) against a real JetStream.

Given-up messages must also be in the dead-letter stream (``RAGBUS_DLQ``), which
the shared server holds for every test: each test finds its own by stream name.
"""

import asyncio

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from deploy.jetstream import ensure_streams
from ragbus.ack_policy import settle
from ragbus.dead_letters import DeadLetterQueue
from ragbus.errors import PermanentError
from schemas.dead_letters import DeadLettered, DeadLetterReason

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def settled_consumer(js, name: str, timeout_s: float = 5.0):
    """The consumer's info once no delivery is waiting for an ack (or at the deadline).

    ``ack`` and ``term`` are published without waiting for the server, so the
    consumer may count the last one as pending for a moment after ``settle``.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (info := await js.consumer_info(name, name)).num_ack_pending:
        if asyncio.get_running_loop().time() > deadline:
            break  # the caller's assertions report it
        await asyncio.sleep(0.02)
    return info


async def run_consumer(nats_url: str, name: str, behaviour, max_deliver: int, rounds: int):
    """Publish one message, then fetch and settle it up to ``rounds`` times."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    subject = f"{name}.work"
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"]))
    await js.publish(subject, b'{"tenant_id": "acme"}', headers={"Nats-Msg-Id": f"{name}-1"})
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

        await settle(
            msg, work, max_deliver=max_deliver, on_permanent=on_permanent, retry_in_place_s=0
        )
    info = await settled_consumer(js, name)
    letters = [
        e.letter for e in await DeadLetterQueue(js).entries() if e.letter.original_stream == name
    ]
    await nc.close()
    return deliveries, recorded, info, letters


async def test_transient_errors_nak_with_delay_then_ack(nats_url: str, unique_name: str) -> None:
    async def flaky(n: int) -> None:
        if n < 3:
            raise ConnectionError("postgres is restarting")

    deliveries, recorded, info, letters = await run_consumer(
        nats_url, unique_name.upper(), flaky, max_deliver=5, rounds=5
    )
    assert deliveries == [1, 2, 3]
    assert recorded == []
    assert info.num_ack_pending == 0 and info.num_pending == 0
    assert letters == []


async def test_transient_error_is_retried_in_place_without_a_redelivery(
    nats_url: str, unique_name: str
) -> None:
    name = unique_name.upper()
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"]))
    await js.publish(f"{name}.work", b"{}")
    # ack_wait 2 s: without in_progress during the 0.5 + 1 + 2 s of backoff the
    # message would be redelivered meanwhile.
    sub = await js.pull_subscribe(
        f"{name}.work",
        durable=name,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=2, max_deliver=5),
    )
    attempts: list[int] = []

    async def postgres_restarting() -> None:
        attempts.append(len(attempts))
        if len(attempts) < 4:
            raise ConnectionRefusedError("postgres is restarting")

    async def never(exc: PermanentError) -> None:
        raise AssertionError("nothing is permanent here")

    (msg,) = await sub.fetch(1, timeout=3)
    await settle(msg, postgres_restarting, max_deliver=5, on_permanent=never)
    with pytest.raises(nats.errors.TimeoutError):
        await sub.fetch(1, timeout=1)  # acked, never redelivered
    info = await js.consumer_info(name, name)
    await nc.close()
    assert len(attempts) == 4  # three failures 0.5 + 1 + 2 s apart, then success
    assert info.num_ack_pending == 0 and info.num_redelivered == 0
    assert info.delivered.consumer_seq == 1


async def test_permanent_error_is_recorded_and_terminated(nats_url: str, unique_name: str) -> None:
    async def bad_input(n: int) -> None:
        raise PermanentError("corrupt PDF: no xref table", code="parse_failed")

    name = unique_name.upper()
    deliveries, recorded, info, letters = await run_consumer(
        nats_url, name, bad_input, max_deliver=5, rounds=3
    )
    assert deliveries == [1]  # terminated: never redelivered
    assert [e.code for e in recorded] == ["parse_failed"]
    assert info.num_ack_pending == 0
    (letter,) = letters
    assert isinstance(letter, DeadLettered)
    assert letter.reason == DeadLetterReason.PERMANENT_ERROR
    assert (letter.error_code, letter.error) == ("parse_failed", "corrupt PDF: no xref table")
    assert (letter.original_subject, letter.original_sequence) == (f"{name}.work", 1)
    assert (letter.consumer, letter.deliveries, letter.tenant_id) == (name, 1, "acme")
    assert letter.headers["Nats-Msg-Id"] == f"{name}-1"
    assert letter.data == b'{"tenant_id": "acme"}'


async def test_last_delivery_turns_transient_into_recorded_failure(
    nats_url: str, unique_name: str
) -> None:
    async def always_down(n: int) -> None:
        raise TimeoutError("qdrant did not answer")

    deliveries, recorded, info, letters = await run_consumer(
        nats_url, unique_name.upper(), always_down, max_deliver=2, rounds=4
    )
    assert deliveries == [1, 2]
    assert [e.code for e in recorded] == ["retries_exhausted"]
    assert "gave up after 2 deliveries: TimeoutError: qdrant did not answer" in str(recorded[0])
    assert info.num_ack_pending == 0
    assert [(d.reason, d.error_code, d.deliveries) for d in letters] == [
        (DeadLetterReason.RETRIES_EXHAUSTED, "retries_exhausted", 2)
    ]


async def test_permanent_error_is_naked_when_it_cannot_be_recorded(
    nats_url: str, unique_name: str
) -> None:
    calls: list[int] = []

    async def bad_input(n: int) -> None:
        calls.append(n)
        raise PermanentError("empty document", code="empty_document")

    name = unique_name.upper()
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"]))
    await js.publish(f"{name}.work", b"{}")
    sub = await js.pull_subscribe(
        f"{name}.work",
        durable=name,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=30, max_deliver=5),
    )

    async def postgres_down(exc: PermanentError) -> None:
        raise ConnectionRefusedError("postgres is down")

    (msg,) = await sub.fetch(1, timeout=3)
    await settle(msg, lambda: bad_input(1), max_deliver=5, on_permanent=postgres_down)
    info = await js.consumer_info(name, name)
    letters = [e for e in await DeadLetterQueue(js).entries() if e.letter.original_stream == name]
    await nc.close()
    # Nak'ed with the longest delay, not terminated, and not dead-lettered yet.
    assert info.num_ack_pending == 1 and info.num_redelivered == 0
    assert letters == []
