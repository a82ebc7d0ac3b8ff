"""How much work waits at each stage, read from JetStream exactly as the autoscalers
read it (:data:`deploy.jetstream.BACKLOGS`).

A stage's backlog is its durable consumer's pending plus unacknowledged messages;
for embed_svc, whose per-tenant lane durables come and go, it is the work-queue
stream's message count. Read by the gateway's ``GET /v1/admin/pipeline`` and by
``ragbus status``.
"""

import contextlib
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from deploy.jetstream import BACKLOGS, DLQ_STREAM


async def read_backlogs(js: JetStreamContext) -> dict[str, Any]:
    """Each stage's waiting and in-flight messages, and the dead letters in all.

    Returns:
        ``{"stages": [{"stage", "backlog", "in_flight"}], "dead_letters": n}`` with
        counts in messages; a stage whose consumer or stream does not exist yet
        counts 0.

    Raises:
        nats.errors.Error: JetStream does not answer.
    """
    stages = []
    for stage in BACKLOGS:
        waiting, in_flight = 0, 0
        with contextlib.suppress(NotFoundError):
            if stage.durable is None:  # embed: per-tenant lanes on a work-queue stream
                waiting = (await js.stream_info(stage.stream)).state.messages
                lanes = await js.consumers_info(stage.stream)
                in_flight = sum(c.num_ack_pending or 0 for c in lanes)
            else:
                info = await js.consumer_info(stage.stream, stage.durable)
                in_flight = info.num_ack_pending or 0
                waiting = (info.num_pending or 0) + in_flight
        stages.append({"stage": stage.service, "backlog": waiting, "in_flight": in_flight})
    dead = 0
    with contextlib.suppress(NotFoundError):
        dead = (await js.stream_info(DLQ_STREAM.name or "")).state.messages
    return {"stages": stages, "dead_letters": dead}
