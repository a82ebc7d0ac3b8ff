"""The dead-letter queue against a real nats-server: capture, ``ragbus dlq`` and replay.

A private server (``nats_server``) is used because the capture path only takes
ragbus's own streams, whose names every test on the shared server would share.
"""

import asyncio
import json

import nats
import pytest
from click.testing import Result
from faststream.nats import NatsBroker
from nats.js.api import AckPolicy, ConsumerConfig
from typer.testing import CliRunner

from deploy.jetstream import DOCUMENTS_STREAM, ensure_streams
from ragbus.bus import EventPublisher
from ragbus.dead_letter_advisories import advisory_router
from ragbus.dead_letters import DeadLetterQueue, dead_letter
from ragbus_tools.cli import app
from ragbus_tools.servers import NatsServer
from schemas import subjects as s
from schemas.dead_letters import DeadLetterReason

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

UPLOADED = s.subject_for(s.DOCUMENT_UPLOADED, "acme")
POISON = b'{"tenant_id": "acme", "filename": 42}'  # fails DocumentUploaded validation


async def cli(url: str, *args: str) -> Result:
    """Run ``ragbus dlq ARGS`` (it runs its own event loop, so in a thread)."""
    return await asyncio.to_thread(CliRunner().invoke, app, ["dlq", *args, "--nats-url", url])


async def wait_for_entries(queue: DeadLetterQueue, n: int, timeout_s: float = 20.0) -> list:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(entries := await queue.entries()) < n:
        assert asyncio.get_running_loop().time() < deadline, f"only {len(entries)} dead letters"
        await asyncio.sleep(0.2)
    return entries


async def test_message_jetstream_gave_up_on_is_dead_lettered_listed_and_replayed(
    nats_server: NatsServer,
) -> None:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_streams(js)
    broker = NatsBroker(nats_server.url)
    broker.include_router(advisory_router(EventPublisher(broker)))
    await broker.start()
    try:
        # A worker that never settles the message: JetStream redelivers it after
        # each ack_wait until max_deliver, then gives up and advises.
        sub = await js.pull_subscribe(
            s.every_tenant(s.DOCUMENT_UPLOADED),
            durable="ingest-test",
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=1, max_deliver=2),
        )
        pub = await js.publish(
            UPLOADED,
            POISON,
            headers={
                "Nats-Msg-Id": "poison-1",
                "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01",
            },
        )
        for _ in range(2):
            await sub.fetch(1, timeout=5)
        # The server notices the last ack_wait ran out when it next serves a pull
        # (a running service always has one pending), and only then advises.
        with pytest.raises(nats.errors.TimeoutError):
            await sub.fetch(1, timeout=3)
        queue = DeadLetterQueue(js)
        (entry,) = await wait_for_entries(queue, 1)
    finally:
        await broker.stop()
    letter = entry.letter
    assert letter.reason == DeadLetterReason.MAX_DELIVERIES
    assert (letter.original_subject, letter.original_stream) == (
        UPLOADED,
        DOCUMENTS_STREAM.name,
    )
    assert (letter.original_sequence, letter.consumer, letter.deliveries) == (
        pub.seq,
        "ingest-test",
        2,
    )
    assert (letter.data, letter.tenant_id) == (POISON, "acme")
    assert letter.headers["Nats-Msg-Id"] == "poison-1"

    listed = await cli(nats_server.url, "list")
    assert listed.exit_code == 0, listed.output
    (row,) = [line for line in listed.stdout.splitlines()[1:] if line.strip()]
    assert row.split()[0] == str(entry.id) and "max_deliveries" in row and "acme" in row

    shown = await cli(nats_server.url, "show", str(entry.id))
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.stdout)
    assert body["data"] == POISON.decode() and body["consumer"] == "ingest-test"

    replayed = await cli(nats_server.url, "replay", str(entry.id))
    assert replayed.exit_code == 0, replayed.output
    assert await queue.entries() == []
    again = await js.get_last_msg(DOCUMENTS_STREAM.name or "", UPLOADED)
    assert again.seq != pub.seq and again.data == POISON
    assert again.headers is not None
    assert again.headers["Nats-Msg-Id"].startswith(f"replay:{entry.id}:")
    assert again.headers["traceparent"] == letter.headers["traceparent"]
    missing = await cli(nats_server.url, "show", str(entry.id))
    assert missing.exit_code == 1
    await nc.close()


async def test_replay_all_and_usage_errors(nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_streams(js)
    queue = DeadLetterQueue(js)
    sub = await js.pull_subscribe(
        s.every_tenant(s.QUERY_REQUESTED),
        durable="retrieve-test",
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=30, max_deliver=5),
    )

    for i in range(3):
        await js.publish(s.subject_for(s.QUERY_REQUESTED, "acme"), f"not json {i}".encode())
    for msg in await sub.fetch(3, timeout=5):
        await dead_letter(msg, reason=DeadLetterReason.PERMANENT_ERROR, code="bad", error="x")
        # A second attempt for the same message (a retried settle) is stored once.
        await dead_letter(msg, reason=DeadLetterReason.PERMANENT_ERROR, code="bad", error="x")
        await msg.term()
    assert [e.letter.data for e in await queue.entries()] == [
        b"not json 0",
        b"not json 1",
        b"not json 2",
    ]

    assert (await cli(nats_server.url, "replay")).exit_code == 2
    done = await cli(nats_server.url, "replay", "--all")
    assert done.exit_code == 0 and "replayed 3" in done.stdout
    assert await queue.entries() == []
    redelivered = await sub.fetch(3, timeout=5)
    assert sorted(m.data for m in redelivered) == [b"not json 0", b"not json 1", b"not json 2"]
    await nc.close()
