"""The gateway's NATS side on FastStream's in-memory broker: routing and typing.

The broker gets the routers ``gateway.app`` includes: the :class:`AnswerHub`, the
:class:`StatusHub` and the :class:`AnswerCache` (over a fake repository). They are
core NATS subscribers with nothing to ack; a real server is used end to end
(tests/e2e/test_document_events.py, tests/e2e/test_answer_cache_e2e.py).

The events are published here as core NATS messages. A real server hands a
JetStream publish to core subscribers of the subject too, but the in-memory broker
hands a message published with ``stream=`` (as :class:`EventPublisher` does) only
to subscribers of that stream.
"""

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from faststream.nats import NatsBroker, TestNatsBroker

from gateway.answer_cache import AnswerCache, AnswerCacheSettings, Ticket
from gateway.answer_hub import AnswerHub
from gateway.document_status_hub import StatusHub
from schemas import (
    AnswerDelta,
    AnswerFailed,
    AnswerReady,
    DocumentDeleted,
    DocumentStatus,
    DocumentStatusChanged,
    Progress,
)
from schemas import subjects as s
from tests.contract.wrong_shapes import assert_refused, on

pytestmark = pytest.mark.contract

QUERY = uuid.uuid4()
DOCUMENT = uuid.uuid4()
DELTA = AnswerDelta(tenant_id="acme", query_id=QUERY, seq=0, text="Fish")
READY = AnswerReady(
    tenant_id="acme", query_id=QUERY, question="q?", answer="Fish.", citations=[], model="m"
)
FAILED = AnswerFailed(tenant_id="acme", query_id=QUERY, code="llm_timeout", error="too slow")
STATUS = DocumentStatusChanged(
    tenant_id="acme",
    document_id=DOCUMENT,
    status=DocumentStatus.EMBEDDING,
    progress=Progress(done=1, total=4),
)
DELETED = DocumentDeleted(tenant_id="acme", document_id=DOCUMENT)


@dataclass
class FakeCacheRepository:
    """Records ``store`` calls (the only repository method the subscribers reach)."""

    stored: list[dict[str, Any]] = field(default_factory=list)

    async def store(self, tenant_id: str, key: str, **entry: Any) -> bool:
        self.stored.append({"tenant_id": tenant_id, "key": key, **entry})
        return True


@dataclass
class Gateway:
    hub: AnswerHub = field(default_factory=AnswerHub)
    statuses: StatusHub = field(default_factory=StatusHub)
    repository: FakeCacheRepository = field(default_factory=FakeCacheRepository)

    def __post_init__(self) -> None:
        self.cache = AnswerCache(self.repository, AnswerCacheSettings())  # type: ignore[arg-type]

    def broker(self) -> NatsBroker:
        """A broker with the routers ``gateway.app`` includes, in its order."""
        nats = NatsBroker()
        nats.include_router(self.hub.router())
        nats.include_router(self.statuses.router())
        nats.include_router(self.cache.router())
        return nats


def drained(queue: asyncio.Queue) -> list[Any]:
    return [queue.get_nowait() for _ in range(queue.qsize())]


async def test_answer_events_reach_the_watchers_of_their_query_typed() -> None:
    gateway = Gateway()
    with gateway.hub.watch(QUERY) as mine, gateway.hub.watch(uuid.uuid4()) as other:
        async with TestNatsBroker(gateway.broker()) as nats:
            await nats.publish(DELTA, on(DELTA, s.ANSWER_DELTA))
            await nats.publish(READY, on(READY, s.ANSWER_READY))
            await nats.publish(FAILED, on(FAILED, s.ANSWER_FAILED))
        received = drained(mine)
        assert drained(other) == []
    assert received == [DELTA, READY, FAILED]
    assert [type(e) for e in received] == [AnswerDelta, AnswerReady, AnswerFailed]
    kept = gateway.hub.snapshot(QUERY)
    assert kept is not None and (kept.deltas, kept.final) == ({0: "Fish"}, READY)


async def test_document_events_reach_the_watchers_of_their_document_as_statuses() -> None:
    gateway = Gateway()
    with (
        gateway.statuses.watch("acme", DOCUMENT) as mine,
        gateway.statuses.watch("globex", DOCUMENT) as other_tenant,
    ):
        async with TestNatsBroker(gateway.broker()) as nats:
            await nats.publish(STATUS, on(STATUS, s.DOCUMENT_STATUS))
            await nats.publish(DELETED, on(DELETED, s.DOCUMENT_DELETED))
        received = drained(mine)
        assert drained(other_tenant) == []
    assert received[0] == STATUS and type(received[0]) is DocumentStatusChanged
    assert isinstance(received[1], DocumentStatusChanged)
    assert (received[1].tenant_id, received[1].document_id, received[1].status) == (
        "acme",
        DOCUMENT,
        DocumentStatus.DELETED,
    )
    assert received[1].occurred_at == DELETED.occurred_at
    assert len(received) == 2


async def test_an_expected_answer_is_cached_and_a_failure_forgets_its_query() -> None:
    gateway = Gateway()
    failing = uuid.uuid4()
    gateway.cache.expect(QUERY, Ticket("acme", "key-1", index_version=7))
    gateway.cache.expect(failing, Ticket("acme", "key-2", index_version=7))
    async with TestNatsBroker(gateway.broker()) as nats:
        await nats.publish(READY, on(READY, s.ANSWER_READY))
        await nats.publish(
            FAILED.model_copy(update={"query_id": failing}),
            on(FAILED.model_copy(update={"query_id": failing}), s.ANSWER_FAILED),
        )
        # A late answer to the failed query finds no ticket any more.
        await nats.publish(
            READY.model_copy(update={"query_id": failing}),
            on(READY.model_copy(update={"query_id": failing}), s.ANSWER_READY),
        )
    (entry,) = gateway.repository.stored
    assert (entry["tenant_id"], entry["key"], entry["index_version"]) == ("acme", "key-1", 7)
    assert entry["query_id"] == QUERY
    assert AnswerReady.model_validate(entry["answer"]) == READY


async def test_payloads_of_the_wrong_shape_reach_no_hub() -> None:
    gateway = Gateway()
    with gateway.hub.watch(QUERY) as answers, gateway.statuses.watch("acme", DOCUMENT) as docs:
        for router, events in (
            (
                gateway.hub.router(),
                [(DELTA, s.ANSWER_DELTA), (READY, s.ANSWER_READY), (FAILED, s.ANSWER_FAILED)],
            ),
            (
                gateway.statuses.router(),
                [(STATUS, s.DOCUMENT_STATUS), (DELETED, s.DOCUMENT_DELETED)],
            ),
        ):
            # One router per broker: the first refusal ends a publish (and the
            # cache, tested below, subscribes answer.ready and answer.failed too).
            nats = NatsBroker()
            nats.include_router(router)
            async with TestNatsBroker(nats) as testing:
                for event, subject in events:
                    await assert_refused(testing, event, subject)
        assert (drained(answers), drained(docs)) == ([], [])
    assert gateway.hub.snapshot(QUERY) is None


async def test_payloads_of_the_wrong_shape_reach_no_cache() -> None:
    gateway = Gateway()
    gateway.cache.expect(QUERY, Ticket("acme", "key-1", index_version=7))
    nats = NatsBroker()
    nats.include_router(gateway.cache.router())
    async with TestNatsBroker(nats) as testing:
        await assert_refused(testing, READY, s.ANSWER_READY)
        await assert_refused(testing, FAILED, s.ANSWER_FAILED)
        assert gateway.repository.stored == []
        # Nothing consumed the ticket: the real answer is still cached.
        await testing.publish(READY, on(READY, s.ANSWER_READY))
    assert [entry["query_id"] for entry in gateway.repository.stored] == [QUERY]
