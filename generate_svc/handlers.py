"""generate_svc's NATS handler."""

from faststream.nats import NatsMessage, NatsRouter

from deploy.jetstream import consumer
from generate_svc.service import GenerateService
from ragbus.bus import jetstream_subscriber, settle
from ragbus.errors import PermanentError
from schemas import ContextRetrieved
from schemas import subjects as s

GENERATE_ACK_WAIT_S = 120.0
"""An LLM may stream for a minute or two; the answerer's own timeout is shorter."""


def build_router(service: GenerateService, *, max_deliver: int = 3) -> NatsRouter:
    """Subscribe generate_svc to ``context.retrieved``.

    Ack policy (manual, ``ragbus.bus.settle``): ack after ``answer.ready`` is stored
    in JetStream and the query recorded; provider timeouts and 5xx nak with backoff;
    a refusal or the last delivery publishes ``answer.failed`` and terms.
    """
    router = NatsRouter()
    spec = consumer(
        "generate-svc",
        s.CONTEXT_RETRIEVED,
        ack_wait_s=GENERATE_ACK_WAIT_S,
        max_deliver=max_deliver,
    )

    @jetstream_subscriber(router, spec)
    async def generate_answer(context: ContextRetrieved, msg: NatsMessage) -> None:
        async def on_permanent(exc: PermanentError) -> None:
            await service.fail(context.tenant_id, context.query_id, exc)

        await settle(
            msg.raw_message,
            lambda: service.answer(context),
            max_deliver=spec.max_deliver,
            on_permanent=on_permanent,
        )

    return router
