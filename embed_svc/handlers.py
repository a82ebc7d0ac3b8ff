"""embed_svc's NATS handlers: thin and typed; the ack policy is applied around them."""

from collections.abc import Awaitable, Callable

from faststream.nats import NatsMessage, NatsRouter

from deploy.jetstream import EMBED_LANE_PREFIX, consumer, stream_for
from embed_svc.pull_batches import PullBatches
from embed_svc.service import EmbedService
from embed_svc.settings import EmbedSettings
from embed_svc.tenant_lanes import LaneSpec, TenantLanes
from embed_svc.texts_embedding import EmbeddingsApi
from ragbus.runtime import ServiceParts
from ragbus.subscribers import jetstream_handler, raw_messages
from schemas import DeleteDocument, EmbedTexts, TextsEmbedded
from schemas import subjects as s

EmbedHandler = Callable[[NatsMessage], Awaitable[None]]

EMBEDDINGS_QUEUE = "embed-svc-texts"
"""Core NATS queue group: one replica answers each ``texts.embed`` request."""


def build_router(
    service: EmbedService, settings: EmbedSettings, pulls: PullBatches, api: EmbeddingsApi
) -> ServiceParts:
    """Subscribe embed_svc to its tenants' lanes, ``document.delete`` and ``texts.embed``.

    Tenant fairness: every tenant with pending ``chunks.ready.<tenant>`` batches gets
    a lane (its own durable pull consumer, see :mod:`embed_svc.tenant_lanes`) and the
    lanes take turns on the model, so one tenant's backlog delays another tenant's
    upload by a few pulls per busy tenant, not by the whole backlog. Each lane runs
    ``settings.pulls_in_flight`` pullers, so one pull is committed while the next
    holds the model.

    Ack policy: lanes, see :mod:`embed_svc.pull_batches`; ``document.delete``, see
    :func:`ragbus.subscribers.jetstream_handler`. ``texts.embed`` is core NATS
    request-reply: nothing is stored, so nothing is acked; the reply carries the
    result, refusals and model failures included, and a request lost with its
    replica times out at the caller (the gateway answers 503, which OpenAI clients
    retry). Each replica answers one request at a time, taking its turn on the
    model with the lanes, so requests are served like one more tenant lane.
    """
    router = NatsRouter()
    lanes = TenantLanes(lane_spec(settings), embed_handler(pulls), raw=True)
    deletes = consumer("embed-svc-delete", s.every_tenant(s.DOCUMENT_DELETE), ack_wait_s=30.0)

    # The row is already a tombstone: retrieval drops its chunks even if this fails.
    @jetstream_handler(router, deletes)
    async def delete_document_vectors(command: DeleteDocument) -> None:
        await service.delete(command)

    @router.subscriber(s.TEXTS_EMBED, queue=EMBEDDINGS_QUEUE)
    async def embed_texts(request: EmbedTexts, msg: NatsMessage) -> TextsEmbedded:
        return await api.embed(request, trace_parent=msg.raw_message)

    return ServiceParts(router, on_start=[lanes.start], on_stop=[lanes.stop])


def lane_spec(settings: EmbedSettings) -> LaneSpec:
    """How embed_svc consumes the ``chunks.ready.<tenant>`` lanes."""
    return LaneSpec(
        stream=stream_for(s.CHUNKS_READY),
        family=s.CHUNKS_READY,
        durable_prefix=EMBED_LANE_PREFIX,
        ack_wait_s=settings.ack_wait_s,
        max_deliver=settings.max_deliver,
        batch_size=settings.batch_messages,
        timeout_s=settings.batch_timeout_s,
        discover_every_s=settings.lane_discover_s,
        idle_close_s=settings.lane_idle_close_s,
        pullers=settings.pulls_in_flight,
    )


def embed_handler(pulls: PullBatches) -> EmbedHandler:
    """The lanes' batched handler: one pull's messages, undecoded, to :meth:`PullBatches.handle`."""

    async def embed_chunks(msg: NatsMessage) -> None:
        await pulls.handle(raw_messages(msg))

    return embed_chunks
