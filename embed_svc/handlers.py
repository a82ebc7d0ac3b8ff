"""embed_svc's NATS handlers: batched across messages, with a declared ack policy."""

from faststream.nats import NatsMessage, NatsRouter

from deploy.jetstream import consumer, stream_for
from embed_svc.service import EmbedService
from embed_svc.settings import EmbedSettings
from ragbus.bus import heartbeat, jetstream_subscriber, raw_messages, record_nothing, settle
from ragbus.embedding import Vectors
from ragbus.errors import PermanentError
from ragbus.lanes import LaneSpec, TenantLanes, Turns
from ragbus.runtime import ServiceParts
from ragbus.settling import RETRY_IN_PLACE_S
from schemas import ChunksReady, DeleteDocument
from schemas import subjects as s


def build_router(
    service: EmbedService, settings: EmbedSettings, turns: Turns | None = None
) -> ServiceParts:
    """Subscribe embed_svc to its tenants' ``chunks.ready.<tenant>`` lanes and ``document.delete``.

    Tenant fairness: every tenant with pending batches gets a lane (its own durable
    pull consumer, see ``ragbus.lanes``) and the lanes take turns on the model, so
    one tenant's backlog delays another tenant's upload by at most one pull batch
    per busy tenant, not by the whole backlog.

    Ack policy (manual, per message of the batch, see ``ragbus.bus.settle``): ack
    after the vectors are upserted and progress committed; a permanent error fails
    that message's document and terms it; a transient one naks it with backoff.
    Heartbeats cover the wait for the model's turn as well as the embedding.

    ``turns`` is the model's turnstile: pass the one the ``texts.embed`` handler
    uses too, so its requests take turns with the lanes (a private one if omitted).
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
    )
    deletes = consumer("embed-svc-delete", s.DOCUMENT_DELETE, ack_wait_s=30.0)
    turns = turns or Turns()

    async def embed_chunks(batches: list[ChunksReady], msg: NatsMessage) -> None:
        raws = raw_messages(msg)
        vectors: list[Vectors] = []
        failure: Exception | None = None
        try:
            async with heartbeat(raws, settings.heartbeat_s), turns.turn():
                vectors = await service.embed(batches, trace_parent=raws[0])
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
                    max_deliver=lanes_spec.max_deliver,
                    on_permanent=on_permanent,
                    retry_in_place_s=in_place_s,
                )

    lanes = TenantLanes(lanes_spec, embed_chunks)

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
