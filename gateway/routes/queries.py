"""``/v1/retrieve`` and ``/v1/query``: questions become events, answers come back."""

import asyncio
import time
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import Field
from sse_starlette import EventSourceResponse

from gateway.answer_cache_hits import cached_events, record_hit
from gateway.answer_hub import AnswerEvent
from gateway.answer_stream import answer_events, ready_json
from gateway.conversation_turns import ConversationsDep, QueriesDep, begin_turn, publish_query
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

REQUEST_ERRORS = frozenset(
    {"rerank_unavailable", "unknown_technique", "technique_unavailable", "technique_conflict"}
)
"""Failure codes caused by the request's retrieval options, answered with 400. Their
messages are written for the client by retrieve_svc (``retrieve_svc/techniques.py``)."""


class RetrieveBody(RetrievalOptions):
    """Body of ``POST /v1/retrieve``: the question, ``top_k`` and the optional
    ``technique``, ``mode``, ``filters``, ``min_score``, ``mmr_lambda`` and ``rerank``
    of ``RetrievalOptions``.
    The tenant comes only from the request's identity, never from the body."""

    question: str = Field(min_length=1, max_length=8192)
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)

    def options(self) -> dict[str, Any]:
        """The retrieval options as keyword arguments of an event."""
        return {name: getattr(self, name) for name in RetrievalOptions.model_fields}


class QueryBody(RetrieveBody):
    """Body of ``POST /v1/query``; ``stream`` (or ``Accept: text/event-stream``) gives SSE.

    ``cache: false`` answers afresh, neither reading nor filling the answer cache.
    """

    stream: bool = False
    conversation_id: uuid.UUID | None = None
    cache: bool = True


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
    if reply.error_code in REQUEST_ERRORS:
        raise HTTPException(400, f"{reply.error_code}: {reply.error}")
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
    request: Request,
    state: StateDep,
    identity: IdentityDep,
    body: QueryBody,
    queries: QueriesDep,
    conversations: ConversationsDep,
) -> dict[str, Any] | EventSourceResponse:
    """Answer a question with citations, as JSON or as SSE ``delta``/``citations``/``done``.

    With ``conversation_id`` the question is a turn of that conversation, condensed
    with its history when it follows earlier turns (see ``gateway.conversation_turns``). A
    cached answer (``gateway.answer_cache``) is served without publishing anything.
    """
    started = time.perf_counter()
    event = QueryRequested(
        tenant_id=identity.tenant_id,
        query_id=uuid.uuid4(),
        question=body.question,
        top_k=body.top_k,
        user_id=identity.user_id,
        **body.options(),
    )
    event = await begin_turn(state, queries, conversations, identity, event, body.conversation_id)
    wants_sse = body.stream or "text/event-stream" in request.headers.get("accept", "")
    cache = state.answer_cache if body.cache else None
    hit = await cache.check(event) if cache else None
    if hit is not None:
        if wants_sse:
            return EventSourceResponse(cached_events(queries, event, hit, started))
        return await record_hit(queries, event, hit, started)
    if wants_sse:
        stream = answer_events(state, queries, identity.tenant_id, event.query_id, publish=event)
        return EventSourceResponse(stream)
    with state.hub.watch(event.query_id) as queue:
        await publish_query(state, queries, event)
        final = await _final_event(queue, state.settings.query_timeout_s)
    if cache:
        await cache.settle(final)  # stored before we answer: an immediate repeat hits
    if isinstance(final, AnswerFailed):
        if final.code in REQUEST_ERRORS:
            raise HTTPException(400, f"{final.code}: {final.error}")
        raise HTTPException(502, f"the query failed: {final.code}")
    return ready_json(final, (time.perf_counter() - started) * 1000)


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
