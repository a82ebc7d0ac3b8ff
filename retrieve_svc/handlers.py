"""retrieve_svc's NATS handlers: thin and typed; the ack policy is applied around them."""

from faststream.nats import NatsRouter

from deploy.jetstream import RETRIEVE_DURABLE, consumer
from ragbus.subscribers import jetstream_handler
from retrieve_svc.requests import RetrieveRequests
from retrieve_svc.settings import RetrieveSettings
from schemas import PassagesRetrieved, QueryRequested, RetrievePassages
from schemas import subjects as s

RETRIEVE_QUEUE = "retrieve-svc"
"""Core NATS queue group: replicas share ``passages.retrieve`` requests."""


def build_router(requests: RetrieveRequests, settings: RetrieveSettings) -> NatsRouter:
    """Subscribe retrieve_svc to ``query.requested`` and ``passages.retrieve``.

    Ack policy for ``query.requested`` (manual,
    :func:`ragbus.subscribers.jetstream_handler`): ack once ``context.retrieved`` is
    stored in JetStream; a permanent error (or the last delivery) publishes
    ``answer.failed`` and terms. ``passages.retrieve`` is core NATS request-reply:
    no ack; errors are returned in the reply.
    """
    router = NatsRouter()
    spec = consumer(
        RETRIEVE_DURABLE,
        s.every_tenant(s.QUERY_REQUESTED),
        ack_wait_s=settings.ack_wait_s,
        max_deliver=settings.max_deliver,
    )

    @jetstream_handler(router, spec, on_permanent=requests.fail, max_workers=settings.concurrency)
    async def retrieve_context(event: QueryRequested) -> None:
        await requests.retrieve_context(event)

    @router.subscriber(s.PASSAGES_RETRIEVE, queue=RETRIEVE_QUEUE)
    async def retrieve_passages(request: RetrievePassages) -> PassagesRetrieved:
        return await requests.retrieve_passages(request)

    return router
