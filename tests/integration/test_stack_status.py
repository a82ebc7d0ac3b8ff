"""``ragbus status`` counts each stage's backlog and the dead letters on a real nats-server.

A private server with ragbus's streams, no service running: messages published on
the streams' own subjects stay where they are, so the counts are exact.
"""

import nats
import pytest
from nats.js.api import ConsumerConfig

from deploy.jetstream import BACKLOGS, DLQ_STREAM, STREAMS, ensure_streams
from ragbus_tools.stack_status import backlogs, status_lines

pytestmark = pytest.mark.integration


def concrete(pattern: str) -> str:
    """A subject that ``pattern`` matches (every wildcard token becomes ``t1``)."""
    return ".".join("t1" if token in ("*", ">") else token for token in pattern.split("."))


def subject_of(stream: str) -> str:
    (config,) = [c for c in STREAMS if c.name == stream]
    assert config.subjects
    return concrete(config.subjects[0])


async def test_backlog_per_stage_and_dead_letters_are_counted(nats_server) -> None:
    stages = {b.service: b for b in BACKLOGS}
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        assert (await backlogs(nats_server.url))["dead_letters"] == 0
        embed_subject = subject_of(stages["embed"].stream)
        for _ in range(3):
            await js.publish(embed_subject, b"{}")
        ingest = stages["ingest"]
        assert ingest.durable is not None
        ingest_subject = subject_of(ingest.stream)
        await js.add_consumer(
            ingest.stream,
            ConsumerConfig(durable_name=ingest.durable, filter_subject=ingest_subject),
        )
        for _ in range(2):
            await js.publish(ingest_subject, b"{}")
        await js.publish(subject_of(DLQ_STREAM.name or ""), b"{}")
    finally:
        await nc.close()

    status = await backlogs(nats_server.url)

    counts = {s["stage"]: s["backlog"] for s in status["stages"]}
    assert counts == {"ingest": 2, "embed": 3, "retrieve": 0, "generate": 0}
    assert status["dead_letters"] == 1
    where = {"gateway": "http://g", "metrics": "http://g/metrics", "nats": nats_server.url}
    lines = status_lines({**where, "gateway_ready": True, **status})
    assert any(line.split() == ["embed", "3", "0"] for line in lines), lines
    assert any(line.startswith("dead letters") and "ragbus dlq list" in line for line in lines)
