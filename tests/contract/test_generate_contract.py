"""generate_svc's handlers on FastStream's in-memory NATS broker: routing and typing.

:class:`GenerateService` and the :class:`Condenser` are fakes that record what
reaches them. Acks, redelivery and de-duplication need a real server
(tests/e2e/test_redelivery.py, tests/integration/test_llm_resilience.py).
"""

import uuid

import pytest
from faststream.nats import NatsBroker, TestNatsBroker

from generate_svc.handlers import build_router
from ragbus.bus import EventPublisher
from ragbus.errors import PermanentError
from schemas import ContextRetrieved, Passage
from schemas import subjects as s
from schemas.conversations import CondenseQuestion, QuestionCondensed, Turn
from tests.contract.wrong_shapes import assert_refused, assert_request_refused

pytestmark = pytest.mark.contract

PASSAGE = Passage(
    chunk_id=uuid.uuid4(),
    document_id=uuid.uuid4(),
    filename="otters.md",
    text="Otters eat fish and crabs.",
    score=0.82,
)
CONTEXT = ContextRetrieved(
    tenant_id="acme", query_id=uuid.uuid4(), question="What do otters eat?", passages=[PASSAGE]
)
CONDENSE = CondenseQuestion(
    tenant_id="acme",
    question="And crabs?",
    history=[Turn(question="What do otters eat?", answer="Fish.")],
)
CONDENSED = "Do otters eat crabs?"


class FakeGenerate:
    """Records each call of the service methods ``build_router`` wires to subjects."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple] = []
        self._error = error

    async def answer(self, context: ContextRetrieved) -> None:
        self.calls.append(("answer", context))
        if self._error is not None:
            raise self._error

    async def fail(self, context: ContextRetrieved, exc: PermanentError) -> None:
        self.calls.append(("fail", context, exc))


class FakeCondenser:
    """Answers every ``question.condense`` with :data:`CONDENSED`, recording the request."""

    def __init__(self) -> None:
        self.requests: list[CondenseQuestion] = []

    async def condense_request(self, request: CondenseQuestion) -> QuestionCondensed:
        self.requests.append(request)
        return QuestionCondensed(tenant_id=request.tenant_id, question=CONDENSED, method="llm")


def broker(service: FakeGenerate, condenser: FakeCondenser | None = None) -> NatsBroker:
    nats = NatsBroker()
    router = build_router(service, condenser=condenser or FakeCondenser())  # type: ignore[arg-type]
    nats.include_router(router)
    return nats


async def test_a_context_reaches_answer_as_the_typed_event() -> None:
    service = FakeGenerate()
    async with TestNatsBroker(broker(service)) as nats:
        await EventPublisher(nats).publish(CONTEXT, s.CONTEXT_RETRIEVED)
    assert service.calls == [("answer", CONTEXT)]
    assert type(service.calls[0][1]) is ContextRetrieved


async def test_a_permanent_error_is_recorded_with_the_event() -> None:
    error = PermanentError("the provider refused the prompt", code="llm_refused")
    service = FakeGenerate(error)
    async with TestNatsBroker(broker(service)) as nats:
        await EventPublisher(nats).publish(CONTEXT, s.CONTEXT_RETRIEVED)
    assert service.calls == [("answer", CONTEXT), ("fail", CONTEXT, error)]


async def test_a_condense_request_is_answered_with_the_typed_reply() -> None:
    condenser = FakeCondenser()
    async with TestNatsBroker(broker(FakeGenerate(), condenser)) as nats:
        body = await EventPublisher(nats).request(CONDENSE, s.QUESTION_CONDENSE, timeout_s=5)
    reply = QuestionCondensed.model_validate(body)
    assert condenser.requests == [CONDENSE] and type(condenser.requests[0]) is CondenseQuestion
    assert (reply.tenant_id, reply.question, reply.method) == ("acme", CONDENSED, "llm")


async def test_payloads_of_the_wrong_shape_reach_nothing() -> None:
    service, condenser = FakeGenerate(), FakeCondenser()
    async with TestNatsBroker(broker(service, condenser)) as nats:
        await assert_refused(nats, CONTEXT, s.CONTEXT_RETRIEVED)
        await assert_request_refused(nats, CONDENSE, s.QUESTION_CONDENSE)
    assert (service.calls, condenser.requests) == ([], [])
