"""generate_svc's NATS handlers: answer retrieved context, condense follow-ups."""

from faststream.nats import NatsMessage, NatsRouter

from deploy.jetstream import consumer
from generate_svc.condense import Condenser
from generate_svc.service import GenerateService
from ragbus.bus import jetstream_subscriber, settle
from ragbus.errors import PermanentError
from schemas import ContextRetrieved
from schemas import subjects as s
from schemas.conversations import CondenseQuestion, QuestionCondensed

GENERATE_ACK_WAIT_S = 120.0
"""An LLM may stream for a minute or two; the answerer's own timeout is shorter."""

CONDENSE_QUEUE = "generate-svc-condense"
"""Queue group: one replica answers each ``question.condense`` request."""


def build_router(
    service: GenerateService, *, max_deliver: int = 3, condenser: Condenser | None = None
) -> NatsRouter:
    """Subscribe generate_svc to ``context.retrieved`` and ``question.condense``.

    Ack policy (manual, ``ragbus.bus.settle``): ack after ``answer.ready`` is stored
    in JetStream and the query recorded; provider timeouts and 5xx nak with backoff;
    a refusal or the last delivery publishes ``answer.failed`` and terms.
    ``question.condense`` is core request-reply: nothing to ack, the reply is the
    result, and a model failure still replies (with the offline rewrite and the reason).

    Args:
        service: The answering logic.
        max_deliver: Deliveries of one ``context.retrieved`` before it fails.
        condenser: Rewrites follow-ups; the offline one when omitted.
    """
    condenser = condenser or Condenser()
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

    @router.subscriber(s.QUESTION_CONDENSE, queue=CONDENSE_QUEUE)
    async def condense_question(request: CondenseQuestion) -> QuestionCondensed:
        question, method, error = await condenser.condense(request.question, request.history)
        return QuestionCondensed(
            tenant_id=request.tenant_id, question=question, method=method, error=error
        )

    return router
