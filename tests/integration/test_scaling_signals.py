"""What KEDA can watch for embed_svc, asked of a real nats-server.

embed_svc's durables are per-tenant lanes on the work-queue stream RAGBUS_CHUNKS.
A dedicated consumer over all of ``chunks.>`` for an autoscaler to read cannot
exist beside them: the server refuses overlapping consumers on a work queue. The
stream's message count can stand in for it, because a work queue deletes each
batch when it is acked: what is left is exactly the work pending and in flight,
whatever the number of lanes, and it is there even when no lane exists.
"""

import httpx
import nats
import pytest
from gjson import get as gjson_get
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import BadRequestError

from deploy.jetstream import CHUNKS_STREAM, EMBED_LANE_PREFIX, JetStreamSettings, ensure_streams
from embed_svc.tenant_lanes import lane_durable
from ragbus_tools.k8s_scaling import JSZ_QUERY, stream_messages_path
from ragbus_tools.servers import NatsServer, free_port
from schemas import subjects as s

pytestmark = pytest.mark.integration

STREAM = CHUNKS_STREAM.name or ""


async def test_the_work_queue_refuses_a_dedicated_backlog_consumer_and_counts_the_work(
    nats_server_factory,
) -> None:
    node: NatsServer = nats_server_factory()
    nc = await nats.connect(node.url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, JetStreamSettings(replicas=1))
        lane = s.chunks_ready_for("tenant-a")
        await js.add_consumer(
            STREAM,
            ConsumerConfig(
                durable_name=lane_durable(EMBED_LANE_PREFIX, lane),
                filter_subject=lane,
                ack_policy=AckPolicy.EXPLICIT,
            ),
        )
        with pytest.raises(BadRequestError) as refused:
            await js.add_consumer(
                STREAM,
                ConsumerConfig(
                    durable_name="embed-backlog",
                    filter_subject="chunks.>",
                    ack_policy=AckPolicy.EXPLICIT,
                ),
            )
        for tenant, count in (("tenant-a", 3), ("tenant-b", 2)):
            for i in range(count):
                await js.publish(s.chunks_ready_for(tenant), f"{tenant}-{i}".encode())
        sub = await js.pull_subscribe_bind(lane_durable(EMBED_LANE_PREFIX, lane), STREAM)
        done = await sub.fetch(2, timeout=5)
        for msg in done:
            await msg.ack_sync()
        info = await js.stream_info(STREAM)
    finally:
        await nc.close()
    print(f"\nserver refused a chunks.> consumer: {refused.value.description!r}")
    assert refused.value.err_code == 10100  # filtered consumer not unique on workqueue stream
    assert info.state.messages == 3  # 5 published, 2 acked: one of tenant-a, two of tenant-b left


async def test_keda_reads_the_backlog_from_jsz_where_the_manifest_says(nats_server_factory) -> None:
    """The metrics-api trigger's query and GJSON path find the stream's count in a real
    /jsz, of a server that authenticates as the shipped ones do (streams in RAGBUS)."""
    port = free_port()
    node = nats_server_factory(http_port=port, authenticated=True)
    nc = await nats.connect(node.admin_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, JetStreamSettings(replicas=1))
        for i in range(4):
            await js.publish(s.chunks_ready_for("tenant-a"), str(i).encode())
    finally:
        await nc.close()
    async with httpx.AsyncClient() as http:
        body = (await http.get(f"http://127.0.0.1:{port}/jsz?{JSZ_QUERY}")).json()
    assert gjson_get(body, stream_messages_path(STREAM)) == 4
