"""retrieve_svc's handlers on FastStream's in-memory NATS broker: routing and typing.

:class:`RetrieveRequests` is a fake that records what reaches it. Acks,
redelivery and de-duplication need a real server (tests/e2e/test_redelivery.py).
"""

import uuid

import pytest
from faststream.nats import NatsBroker, TestNatsBroker

from ragbus.bus import EventPublisher
from ragbus.errors import PermanentError
from retrieve_svc.handlers import build_router
from retrieve_svc.settings import RetrieveSettings
from schemas import Passage, PassagesRetrieved, QueryRequested, RetrievePassages
from schemas import subjects as s
from tests.contract.wrong_shapes import assert_refused, assert_request_refused

pytestmark = pytest.mark.contract

QUERY = QueryRequested(tenant_id="acme", query_id=uuid.uuid4(), question="What do otters eat?")
REQUEST = RetrievePassages(tenant_id="acme", question="What do otters eat?", top_k=3)
PASSAGE = Passage(
    chunk_id=uuid.uuid4(),
    document_id=uuid.uuid4(),
    filename="otters.md",
    text="Otters eat fish and crabs.",
    score=0.82,
)


class FakeRequests:
    """Records each call of the methods ``build_router`` wires to subjects."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple] = []
        self._error = error

    async def retrieve_context(self, event: QueryRequested) -> None:
        self.calls.append(("retrieve_context", event))
        if self._error is not None:
            raise self._error

    async def fail(self, event: QueryRequested, exc: PermanentError) -> None:
        self.calls.append(("fail", event, exc))

    async def retrieve_passages(self, request: RetrievePassages) -> PassagesRetrieved:
        self.calls.append(("retrieve_passages", request))
        return PassagesRetrieved(tenant_id=request.tenant_id, passages=[PASSAGE])


def broker(requests: FakeRequests) -> NatsBroker:
    nats = NatsBroker()
    nats.include_router(build_router(requests, RetrieveSettings()))  # type: ignore[arg-type]
    return nats


async def test_a_query_reaches_retrieve_context_as_the_typed_event() -> None:
    requests = FakeRequests()
    async with TestNatsBroker(broker(requests)) as nats:
        await EventPublisher(nats).publish(QUERY, s.QUERY_REQUESTED)
    assert requests.calls == [("retrieve_context", QUERY)]
    assert type(requests.calls[0][1]) is QueryRequested


async def test_a_permanent_error_is_recorded_with_the_event() -> None:
    error = PermanentError("no such technique: telepathy", code="unknown_technique")
    requests = FakeRequests(error)
    async with TestNatsBroker(broker(requests)) as nats:
        await EventPublisher(nats).publish(QUERY, s.QUERY_REQUESTED)
    assert requests.calls == [("retrieve_context", QUERY), ("fail", QUERY, error)]


async def test_a_passages_request_is_answered_with_the_typed_reply() -> None:
    requests = FakeRequests()
    async with TestNatsBroker(broker(requests)) as nats:
        body = await EventPublisher(nats).request(REQUEST, s.PASSAGES_RETRIEVE, timeout_s=5)
    reply = PassagesRetrieved.model_validate(body)
    assert requests.calls == [("retrieve_passages", REQUEST)]
    assert type(requests.calls[0][1]) is RetrievePassages
    assert (reply.tenant_id, reply.passages, reply.error_code) == ("acme", [PASSAGE], None)


async def test_payloads_of_the_wrong_shape_reach_nothing() -> None:
    requests = FakeRequests()
    async with TestNatsBroker(broker(requests)) as nats:
        await assert_refused(nats, QUERY, s.QUERY_REQUESTED)
        await assert_request_refused(nats, REQUEST, s.PASSAGES_RETRIEVE)
    assert requests.calls == []
