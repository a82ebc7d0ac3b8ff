"""Follow-up condensing, the answer hub's memory of streams, citations' confidence."""

import asyncio
import json
import uuid
from dataclasses import replace
from types import SimpleNamespace

import pytest
from fastapi import HTTPException

from gateway.answer_hub import AnswerHub
from gateway.answer_stream import answer_events
from gateway.conversation_turns import publish_query
from generate_svc.citations import confidence
from generate_svc.condense import (
    MAX_QUESTION_CHARS,
    Condenser,
    combine_with_previous,
    condense_messages,
)
from ragbus.errors import RetryableError
from ragbus.stores.queries import QueryRecord
from schemas import AnswerDelta, AnswerReady, Citation, QueryRequested
from schemas.conversations import Turn

pytestmark = pytest.mark.unit

HISTORY = [
    Turn(question="What is a stream?", answer="A stream is data over time [1]."),
    Turn(question="How do I spawn a child process?", answer="Use spawn() [2]."),
]


def test_offline_condense_joins_the_previous_question() -> None:
    assert combine_with_previous(" and kill it? ", HISTORY) == (
        "How do I spawn a child process? and kill it?"
    )
    assert combine_with_previous("alone?", []) == "alone?"
    long = combine_with_previous("q" * 200 + "?", [Turn(question="x" * 8192)])
    assert len(long) == MAX_QUESTION_CHARS and long.endswith(" " + "q" * 200 + "?")


def test_condense_prompt_shows_the_last_turns_and_the_follow_up() -> None:
    system, user = condense_messages("And kill it?", HISTORY)
    assert system["role"] == "system" and "standalone" in system["content"]
    assert "User: How do I spawn a child process?\nAssistant: Use spawn() [2]." in user["content"]
    assert user["content"].endswith("Follow-up question: And kill it?")


async def test_condenser_uses_the_model_and_falls_back_when_it_fails() -> None:
    async def model(messages: list[dict[str, str]]) -> str:
        return "How do I kill a child process?\nExplanation: it refers to the process."

    async def down(messages: list[dict[str, str]]) -> str:
        raise RetryableError("503", code="llm_unavailable")

    assert await Condenser(model).condense("And kill it?", HISTORY) == (
        "How do I kill a child process?",
        "llm",
        None,
    )
    question, method, error = await Condenser(down).condense("And kill it?", HISTORY)
    assert (question, method) == ("How do I spawn a child process? And kill it?", "unchanged")
    assert error == "llm_unavailable: 503"
    assert await Condenser(model).condense("First?", []) == ("First?", "unchanged", None)
    assert (await Condenser().condense("And kill it?", HISTORY))[1] == "combined"

    async def quoting(messages: list[dict[str, str]]) -> str:
        return '"How do I kill a child process?"'

    assert (await Condenser(quoting).condense("And kill it?", HISTORY))[0] == (
        "How do I kill a child process?"
    )


def ready(query_id: uuid.UUID) -> AnswerReady:
    return AnswerReady(
        tenant_id="t", query_id=query_id, question="q", answer="ab", citations=[], model="m"
    )


def test_hub_keeps_deltas_for_every_watcher_and_resumers() -> None:
    hub = AnswerHub()
    qid = uuid.uuid4()
    with hub.watch(qid) as first, hub.watch(qid) as second:
        hub.deliver(AnswerDelta(tenant_id="t", query_id=qid, seq=0, text="a"))
        hub.deliver(AnswerDelta(tenant_id="t", query_id=qid, seq=0, text="REDELIVERED"))
        hub.deliver(AnswerDelta(tenant_id="t", query_id=qid, seq=1, text="b"))
        hub.deliver(ready(qid))
        assert first.qsize() == second.qsize() == 4
    kept = hub.snapshot(qid)
    assert kept is not None
    assert kept.deltas == {0: "a", 1: "b"}
    assert isinstance(kept.final, AnswerReady)
    assert hub.snapshot(uuid.uuid4()) is None


def test_hub_forgets_streams_after_the_retention_window_or_when_full() -> None:
    expired = AnswerHub(retention_s=0.0)
    qid = uuid.uuid4()
    expired.deliver(AnswerDelta(tenant_id="t", query_id=qid, seq=0, text="a"))
    assert expired.snapshot(qid) is None

    full = AnswerHub(max_streams=2)
    ids = [uuid.uuid4() for _ in range(3)]
    for qid in ids:
        full.deliver(AnswerDelta(tenant_id="t", query_id=qid, seq=0, text="a"))
    assert full.snapshot(ids[0]) is None
    assert full.snapshot(ids[1]) is not None and full.snapshot(ids[2]) is not None


def citation(n: int, score: float) -> Citation:
    return Citation(n=n, document_id=uuid.uuid4(), filename="f", chunk_id=uuid.uuid4(), score=score)


def test_confidence_is_the_best_cited_score_clipped() -> None:
    assert confidence([]) == 0.0
    assert confidence([citation(1, 0.41), citation(2, 0.6789)]) == 0.679
    assert confidence([citation(1, 1.7)]) == 1.0
    assert confidence([citation(1, -0.2)]) == 0.0


async def test_a_slow_model_means_the_offline_rewrite() -> None:
    async def slow(messages: list[dict[str, str]]) -> str:
        await asyncio.sleep(5)
        return "never"

    question, method, error = await Condenser(slow, timeout_s=0.05).condense("And?", HISTORY)

    assert (question, method) == ("How do I spawn a child process? And?", "unchanged")
    assert error is not None and error.startswith("llm_timeout")


class RefusingPublisher:
    async def publish(self, event: object, subject: str, *, msg_id: str | None = None) -> None:
        raise ConnectionError("nats down")


class RecordingQueries:
    def __init__(self) -> None:
        self.failed: list[tuple[str, uuid.UUID, str]] = []

    async def fail(self, tenant_id: str, query_id: uuid.UUID, *, code: str, error: str) -> bool:
        self.failed.append((tenant_id, query_id, code))
        return True


async def test_a_query_jetstream_did_not_take_is_marked_failed_not_left_pending() -> None:
    state = SimpleNamespace(publisher=RefusingPublisher())
    queries = RecordingQueries()
    event = QueryRequested(tenant_id="t", query_id=uuid.uuid4(), question="q?")

    with pytest.raises(HTTPException) as info:
        await publish_query(state, queries, event)  # type: ignore[arg-type]

    assert info.value.status_code == 503
    assert queries.failed == [("t", event.query_id, "enqueue_failed")]


class StoredAnswers:
    """QueryRepository.get over one record that is pending until ``finish``."""

    def __init__(self, record: QueryRecord) -> None:
        self.record = record

    async def get(self, tenant_id: str, query_id: uuid.UUID) -> QueryRecord | None:
        return self.record

    def finish(self, deltas: list[str]) -> None:
        self.record = replace(self.record, status="answered", deltas=deltas, answer="".join(deltas))


async def test_a_replica_that_missed_deltas_fills_them_from_postgres_at_the_end() -> None:
    qid = uuid.uuid4()
    pieces = ["a", "b", "c", "d"]
    stored = StoredAnswers(
        QueryRecord(
            tenant_id="t",
            id=qid,
            user_id=None,
            question="q?",
            top_k=5,
            status="pending",
            answer=None,
        )
    )
    hub = AnswerHub()  # a replica that started after delta 0 was published
    state = SimpleNamespace(hub=hub, settings=SimpleNamespace(query_timeout_s=10.0))
    events = answer_events(state, stored, "t", qid, after_seq=-1)  # type: ignore[arg-type]

    async def generate() -> None:
        await asyncio.sleep(0.05)
        for seq in (1, 2, 3):  # seq 0 never reached this replica
            hub.deliver(AnswerDelta(tenant_id="t", query_id=qid, seq=seq, text=pieces[seq]))
        stored.finish(pieces)  # the row is committed before answer.ready is published
        hub.deliver(
            AnswerReady(
                tenant_id="t", query_id=qid, question="q?", answer="abcd", citations=[], model="m"
            )
        )

    producer = asyncio.create_task(generate())
    received = [sse async for sse in events]
    await producer

    deltas = [(sse.id, json.loads(sse.data)["text"]) for sse in received if sse.event == "delta"]
    assert deltas == [("0", "a"), ("1", "b"), ("2", "c"), ("3", "d")]
    assert [sse.event for sse in received][-2:] == ["citations", "done"]
