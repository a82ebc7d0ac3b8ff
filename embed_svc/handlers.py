"""embed_svc's NATS handlers: batched across messages, with a declared ack policy."""

from collections.abc import Awaitable, Callable

from faststream.nats import NatsMessage, NatsRouter

from deploy.jetstream import consumer, stream_for
from embed_svc.service import EmbedService
from embed_svc.settings import EmbedSettings
from embed_svc.tenant_lanes import LaneSpec, TenantLanes, Turns
from ragbus.ack_policy import RETRY_IN_PLACE_S
from ragbus.bus import heartbeat, jetstream_subscriber, raw_messages, record_nothing, settle
from ragbus.embedding import Vectors
from ragbus.errors import PermanentError
from ragbus.runtime import ServiceParts
from schemas import ChunksReady, DeleteDocument
from schemas import subjects as s

EmbedHandler = Callable[[list[ChunksReady], NatsMessage], Awaitable[None]]


def build_router(
    service: EmbedService, settings: EmbedSettings, turns: Turns | None = None
) -> ServiceParts:
    """Subscribe embed_svc to its tenants' ``chunks.ready.<tenant>`` lanes and ``document.delete``.

    Tenant fairness: every tenant with pending batches gets a lane (its own durable
    pull consumer, see ``embed_svc.tenant_lanes``) and the lanes take turns on the model, so
    one tenant's backlog delays another tenant's upload by a few pull batches per
    busy tenant, not by the whole backlog.

    Throughput: each lane runs ``settings.pulls_in_flight`` pullers, so while one
    pull's batches are committed (upsert, progress, announcements) the next pull
    already holds the model; model calls stay one at a time through ``turns``.

    Ack policy: see :func:`embed_handler`.

    Args:
        service: The embed logic.
        settings: Pull sizes, heartbeats, limits.
        turns: The model's turnstile, shared with anything else that calls the
            model in this process (``texts.embed``); a new one if omitted.
    """
    router = NatsRouter()
    lanes_spec = LaneSpec(
        stream=stream_for(s.CHUNKS_READY),
        family=s.CHUNKS_READY,
        durable_prefix="embed-svc",
        ack_wait_s=settings.ack_wait_s,
        max_deliver=settings.max_deliver,
        batch_size=settings.batch_messages,
        timeout_s=settings.batch_timeout_s,
        discover_every_s=settings.lane_discover_s,
        idle_close_s=settings.lane_idle_close_s,
        pullers=settings.pulls_in_flight,
    )
    deletes = consumer("embed-svc-delete", s.DOCUMENT_DELETE, ack_wait_s=30.0)
    handler = embed_handler(service, turns or Turns(), settings)
    lanes = TenantLanes(lanes_spec, handler)

    @jetstream_subscriber(router, deletes)
    async def delete_document_vectors(command: DeleteDocument, msg: NatsMessage) -> None:
        # The document row is already a tombstone, so retrieval drops its chunks even
        # if removing the vectors fails for good.
        await settle(
            msg.raw_message,
            lambda: service.delete(command),
            max_deliver=deletes.max_deliver,
            on_permanent=record_nothing,
        )

    return ServiceParts(router, on_start=[lanes.start], on_stop=[lanes.stop])


def embed_handler(service: EmbedService, turns: Turns, settings: EmbedSettings) -> EmbedHandler:
    """The lanes' handler: embed a pull's batches in one model turn, then commit each.

    Ack policy (manual, per message of the batch, see ``ragbus.bus.settle``): ack
    after the vectors are upserted and progress committed; a permanent error fails
    that message's document and terms it; a transient one is retried in place, then
    nak'ed with backoff. Heartbeats cover the document checks, the wait for the
    model's turn, the embedding and the commits. Only the model call holds the
    turn: the document checks before it and the commits after it run while another
    pull uses the model.
    """

    async def embed_chunks(batches: list[ChunksReady], msg: NatsMessage) -> None:
        raws = raw_messages(msg)
        vectors: list[Vectors] = []
        failure: Exception | None = None
        try:
            async with heartbeat(raws, settings.heartbeat_s):
                wanted = await service.wanted(batches)
                async with turns.turn():
                    vectors = await service.embed(batches, trace_parent=raws[0], wanted=wanted)
        except Exception as exc:  # settled per message below
            failure = exc
        # The model's failure is the whole batch's: retrying it per message in place
        # would hold the lane for len(batch) x the in-place window, so nak at once.
        in_place_s = 0.0 if failure is not None else RETRY_IN_PLACE_S
        async with heartbeat(raws, settings.heartbeat_s):  # later messages wait their turn
            for i, (batch, raw) in enumerate(zip(batches, raws, strict=True)):

                async def work(batch: ChunksReady = batch, i: int = i) -> None:
                    if failure is not None:
                        raise failure
                    await service.commit(batch, vectors[i])

                async def on_permanent(exc: PermanentError, batch: ChunksReady = batch) -> None:
                    await service.fail(batch, exc)

                await settle(
                    raw,
                    work,
                    max_deliver=settings.max_deliver,
                    on_permanent=on_permanent,
                    retry_in_place_s=in_place_s,
                )

    return embed_chunks
