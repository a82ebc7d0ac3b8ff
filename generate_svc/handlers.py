"""generate_svc's NATS handlers: thin and typed; the ack policy is applied around them."""

from faststream.nats import NatsRouter

from deploy.jetstream import GENERATE_DURABLE, consumer
from generate_svc.condense import Condenser
from generate_svc.service import GenerateService
from ragbus.subscribers import jetstream_handler
from schemas import ContextRetrieved
from schemas import subjects as s
from schemas.conversations import CondenseQuestion, QuestionCondensed

GENERATE_ACK_WAIT_S = 120.0
"""An LLM may stream for a minute or two; the answerer's own timeout is shorter."""

CONDENSE_QUEUE = "generate-svc-condense"
"""Queue group: one replica answers each ``question.condense`` request."""


def build_router(
    service: GenerateService,
    *,
    max_deliver: int = 3,
    condenser: Condenser | None = None,
    concurrency: int = 1,
) -> NatsRouter:
    """Subscribe generate_svc to ``context.retrieved`` and ``question.condense``.

    Ack policy (manual, :func:`ragbus.subscribers.jetstream_handler`): ack after
    ``answer.ready`` is stored in JetStream and the query recorded; provider
    timeouts and 5xx nak with backoff; a refusal or the last delivery publishes
    ``answer.failed`` and terms. ``question.condense`` is core request-reply:
    nothing to ack, the reply is the result, and a model failure still replies
    (with the offline rewrite and the reason).

    Args:
        service: The answering logic.
        max_deliver: Deliveries of one ``context.retrieved`` before it fails.
        condenser: Rewrites follow-ups; the offline one when omitted.
        concurrency: ``context.retrieved`` messages answered at once.
    """
    condense = (condenser or Condenser()).condense_request
    router = NatsRouter()
    spec = consumer(
        GENERATE_DURABLE,
        s.CONTEXT_RETRIEVED,
        ack_wait_s=GENERATE_ACK_WAIT_S,
        max_deliver=max_deliver,
    )

    @jetstream_handler(router, spec, on_permanent=service.fail, max_workers=concurrency)
    async def generate_answer(context: ContextRetrieved) -> None:
        await service.answer(context)

    @router.subscriber(s.QUESTION_CONDENSE, queue=CONDENSE_QUEUE)
    async def condense_question(request: CondenseQuestion) -> QuestionCondensed:
        return await condense(request)

    return router
