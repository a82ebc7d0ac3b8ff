"""retrieve_svc's NATS handlers."""

from faststream.nats import NatsMessage, NatsRouter

from deploy.jetstream import consumer
from ragbus.bus import Publisher, jetstream_subscriber, settle
from ragbus.errors import PermanentError
from ragbus.stores.queries import QueryRepository
from retrieve_svc.service import RetrieveService
from retrieve_svc.settings import RetrieveSettings
from schemas import (
    AnswerFailed,
    ContextRetrieved,
    PassagesRetrieved,
    QueryRequested,
    RetrievePassages,
)
from schemas import subjects as s

RETRIEVE_QUEUE = "retrieve-svc"
"""Core NATS queue group: replicas share ``passages.retrieve`` requests."""


def build_router(
    service: RetrieveService,
    queries: QueryRepository,
    publisher: Publisher,
    settings: RetrieveSettings,
) -> NatsRouter:
    """Subscribe retrieve_svc to ``query.requested`` and ``passages.retrieve``.

    Ack policy for ``query.requested`` (manual, ``ragbus.bus.settle``): ack once
    ``context.retrieved`` is stored in JetStream; a permanent error (or the last
    delivery) publishes ``answer.failed`` and terms. ``passages.retrieve`` is core
    NATS request-reply: no ack; errors are returned in the reply.
    """
    router = NatsRouter()
    spec = consumer(
        "retrieve-svc",
        s.QUERY_REQUESTED,
        ack_wait_s=settings.ack_wait_s,
        max_deliver=settings.max_deliver,
    )

    @jetstream_subscriber(router, spec)
    async def retrieve_context(event: QueryRequested, msg: NatsMessage) -> None:
        async def work() -> None:
            await queries.create(
                event.tenant_id,
                event.query_id,
                question=event.question,
                top_k=event.top_k,
                user_id=event.user_id,
            )
            passages, timings = await service.retrieve(
                event.tenant_id, event.question, event.top_k, event
            )
            await publisher.publish(
                ContextRetrieved(
                    tenant_id=event.tenant_id,
                    query_id=event.query_id,
                    question=event.question,
                    passages=passages,
                    user_id=event.user_id,
                    timings=timings,
                ),
                s.CONTEXT_RETRIEVED,
                msg_id=f"{event.query_id}:context",
            )

        async def on_permanent(exc: PermanentError) -> None:
            await queries.fail(event.tenant_id, event.query_id, code=exc.code, error=str(exc))
            await publisher.publish(
                AnswerFailed(
                    tenant_id=event.tenant_id,
                    query_id=event.query_id,
                    code=exc.code,
                    error=str(exc),
                ),
                s.ANSWER_FAILED,
                msg_id=f"{event.query_id}:failed",
            )

        await settle(msg.raw_message, work, max_deliver=spec.max_deliver, on_permanent=on_permanent)

    @router.subscriber(s.PASSAGES_RETRIEVE, queue=RETRIEVE_QUEUE)
    async def retrieve_passages(request: RetrievePassages) -> PassagesRetrieved:
        try:
            passages, timings = await service.retrieve(
                request.tenant_id, request.question, request.top_k, request
            )
        except Exception as exc:  # the reply carries the reason; nothing to redeliver
            # A permanent error's message is written for the client (the gateway shows
            # it for request errors such as ``unknown_technique``); others name the type.
            permanent = isinstance(exc, PermanentError)
            return PassagesRetrieved(
                tenant_id=request.tenant_id,
                passages=[],
                error=str(exc) if permanent else f"{type(exc).__name__}: {exc}",
                error_code=getattr(exc, "code", None),
            )
        return PassagesRetrieved(tenant_id=request.tenant_id, passages=passages, timings=timings)

    return router
