"""``/v1/retrieve`` and ``/v1/query``: questions become events, answers come back."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from gateway.answers import AnswerEvent
from gateway.identity import IdentityDep
from gateway.state import StateDep
from schemas import (
    AnswerDelta,
    AnswerFailed,
    AnswerReady,
    PassagesRetrieved,
    QueryRequested,
    RetrievePassages,
)
from schemas import subjects as s
from schemas.queries import MAX_TOP_K, RetrievalOptions

router = APIRouter(prefix="/v1", tags=["queries"])


class RetrieveBody(RetrievalOptions):
    """Body of ``POST /v1/retrieve``: the question, ``top_k`` and the optional
    ``mode``, ``filters``, ``min_score`` and ``mmr_lambda`` of ``RetrievalOptions``.
    The tenant comes only from the request's identity, never from the body."""

    question: str = Field(min_length=1, max_length=8192)
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)

    def options(self) -> dict[str, Any]:
        """The retrieval options as keyword arguments of an event."""
        return {name: getattr(self, name) for name in RetrievalOptions.model_fields}


class QueryBody(RetrieveBody):
    """Body of ``POST /v1/query``; ``stream`` (or ``Accept: text/event-stream``) gives SSE."""

    stream: bool = False


@router.post("/retrieve")
async def retrieve(state: StateDep, identity: IdentityDep, body: RetrieveBody) -> dict[str, Any]:
    """Top-k passages for a question, without generation (NATS request-reply)."""
    started = time.perf_counter()
    request = RetrievePassages(
        tenant_id=identity.tenant_id, question=body.question, top_k=body.top_k, **body.options()
    )
    try:
        raw = await state.publisher.request(
            request, s.PASSAGES_RETRIEVE, timeout_s=state.settings.retrieve_timeout_s
        )
    except TimeoutError:
        raise HTTPException(504, "retrieve service did not answer in time") from None
    reply = PassagesRetrieved.model_validate(raw)
    if reply.error_code == "rerank_unavailable":
        raise HTTPException(400, "reranking was requested but is not configured")
    if reply.error:
        raise HTTPException(503, "retrieval failed; see the retrieve service's logs")
    timings = reply.timings.model_dump(exclude_none=True)
    timings["total_ms"] = (time.perf_counter() - started) * 1000
    return {
        "passages": [p.model_dump(mode="json") for p in reply.passages],
        "timings": timings,
    }


@router.post("/query", response_model=None)
async def query(
    request: Request, state: StateDep, identity: IdentityDep, body: QueryBody
) -> dict[str, Any] | EventSourceResponse:
    """Answer a question with citations, as JSON or as SSE ``delta``/``citations``/``done``."""
    event = QueryRequested(
        tenant_id=identity.tenant_id,
        query_id=uuid.uuid4(),
        question=body.question,
        top_k=body.top_k,
        user_id=identity.user_id,
        **body.options(),
    )
    wants_sse = body.stream or "text/event-stream" in request.headers.get("accept", "")
    if wants_sse:
        return EventSourceResponse(_stream(state, event))
    started = time.perf_counter()
    with state.hub.watch(event.query_id) as queue:
        await state.publisher.publish(event, s.QUERY_REQUESTED, msg_id=str(event.query_id))
        final = await _final_event(queue, state.settings.query_timeout_s)
    if isinstance(final, AnswerFailed):
        raise HTTPException(502, f"the query failed: {final.code}")
    return _answer_json(final, started)


async def _final_event(
    queue: "asyncio.Queue[AnswerEvent]", timeout_s: float
) -> AnswerReady | AnswerFailed:
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                item = await queue.get()
                if not isinstance(item, AnswerDelta):
                    return item
    except TimeoutError:
        raise HTTPException(504, "no answer in time; the query is still recorded") from None


def _answer_json(ready: AnswerReady, started: float) -> dict[str, Any]:
    return {
        "query_id": str(ready.query_id),
        "answer": ready.answer,
        "citations": [c.model_dump(mode="json") for c in ready.citations],
        "found": ready.found,
        "model": ready.model,
        "timings": {
            "retrieve_ms": ready.timings.retrieve_ms,
            "generate_ms": ready.timings.generate_ms,
            "total_ms": (time.perf_counter() - started) * 1000,
        },
    }


async def _stream(state: Any, event: QueryRequested) -> AsyncIterator[ServerSentEvent]:
    started = time.perf_counter()
    with state.hub.watch(event.query_id) as queue:
        await state.publisher.publish(event, s.QUERY_REQUESTED, msg_id=str(event.query_id))
        yield ServerSentEvent(json.dumps({"query_id": str(event.query_id)}), event="query")
        seen = -1
        try:
            async with asyncio.timeout(state.settings.query_timeout_s):
                while True:
                    item = await queue.get()
                    if isinstance(item, AnswerDelta):
                        if item.seq <= seen:  # redelivered generation restarts at 0
                            continue
                        seen = item.seq
                        yield ServerSentEvent(
                            json.dumps({"seq": item.seq, "text": item.text}),
                            event="delta",
                            id=str(item.seq),
                        )
                    elif isinstance(item, AnswerReady):
                        body = _answer_json(item, started)
                        yield ServerSentEvent(json.dumps(body["citations"]), event="citations")
                        yield ServerSentEvent(json.dumps(body), event="done")
                        return
                    else:
                        yield ServerSentEvent(
                            json.dumps({"code": item.code, "error": item.error}), event="error"
                        )
                        return
        except TimeoutError:
            yield ServerSentEvent(json.dumps({"code": "timeout"}), event="error")
