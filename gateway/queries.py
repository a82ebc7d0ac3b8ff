"""Questions become events and answers come back: retrieval alone, or a full answer.

The logic of ``/v1/retrieve``, ``/v1/query`` and ``/v1/queries/{id}``, without the
routing (``gateway/routes/queries.py``, ``gateway/routes/query_history.py``). A
query of ``/v1/query`` or ``/v1/chat/completions`` is first recorded as a turn
(:func:`start_query`), then answered from the answer cache or by publishing it.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from pydantic import Field
from sse_starlette import ServerSentEvent

from gateway.answer_cache import AnswerCache, CachedAnswer
from gateway.answer_cache_hits import cached_events, record_hit
from gateway.answer_hub import AnswerEvent
from gateway.answer_stream import answer_events, ready_json
from gateway.conversation_store import ConversationRepository
from gateway.conversation_turns import begin_turn, publish_query
from gateway.identity import Identity
from gateway.request_checks import RequestBody
from gateway.state import GatewayState
from ragbus.stores.queries import QueryRecord, QueryRepository
from schemas import (
    AnswerDelta,
    AnswerFailed,
    AnswerReady,
    PassagesRetrieved,
    QueryRequested,
    RetrievePassages,
)
from schemas import subjects as s
from schemas.conversations import Turn
from schemas.queries import MAX_TOP_K, RetrievalOptions

REQUEST_ERRORS = frozenset(
    {"rerank_unavailable", "unknown_technique", "technique_unavailable", "technique_conflict"}
)
"""Failure codes caused by the request's retrieval options, answered with 400. Their
messages are written for the client by retrieve_svc (``retrieve_svc/techniques.py``)."""


class RetrieveBody(RequestBody, RetrievalOptions):
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


async def retrieve_passages(
    state: GatewayState, tenant_id: str, body: RetrieveBody
) -> dict[str, Any]:
    """Ask retrieve_svc for the top-k passages (``passages.retrieve``, request-reply).

    Returns:
        ``{"passages": [...], "timings": {..., "total_ms"}}``, times in milliseconds.

    Raises:
        HTTPException: 400 for retrieval options the service refused
            (:data:`REQUEST_ERRORS`); 503 when retrieval failed; 504 when no reply
            came within ``retrieve_timeout_s``.
    """
    started = time.perf_counter()
    request = RetrievePassages(
        tenant_id=tenant_id, question=body.question, top_k=body.top_k, **body.options()
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


@dataclass(frozen=True, slots=True)
class StartedQuery:
    """A query recorded as a turn and looked up in the answer cache.

    Attributes:
        event: The query to answer; its ``question`` stands alone.
        started: ``time.perf_counter()`` when the request began, for ``total_ms``.
        cache: The answer cache, or None when the request bypasses it.
        hit: The cached answer, or None when the query must be answered afresh.
    """

    event: QueryRequested
    started: float
    cache: AnswerCache | None
    hit: CachedAnswer | None


async def start_query(
    state: GatewayState,
    queries: QueryRepository,
    conversations: ConversationRepository,
    identity: Identity,
    event: QueryRequested,
    conversation_id: uuid.UUID | None,
    *,
    started: float,
    use_cache: bool,
    history: list[Turn] | None = None,
) -> StartedQuery:
    """Record the query (see :func:`~gateway.conversation_turns.begin_turn`), then
    check the answer cache unless ``use_cache`` is false.

    Raises:
        HTTPException: 404 for an unknown conversation; 504 when condensing timed out.
    """
    event = await begin_turn(
        state, queries, conversations, identity, event, conversation_id, history=history
    )
    cache = state.answer_cache if use_cache else None
    hit = await cache.check(event) if cache else None
    return StartedQuery(event=event, started=started, cache=cache, hit=hit)


async def ask(
    state: GatewayState,
    queries: QueryRepository,
    conversations: ConversationRepository,
    identity: Identity,
    body: QueryBody,
) -> StartedQuery:
    """Start the query of ``POST /v1/query``; answer it with :func:`answer_stream`
    or :func:`answer_json`.

    Raises:
        HTTPException: 404 for an unknown conversation; 504 when condensing timed out.
    """
    started = time.perf_counter()
    event = QueryRequested(
        tenant_id=identity.tenant_id,
        query_id=uuid.uuid4(),
        question=body.question,
        top_k=body.top_k,
        user_id=identity.user_id,
        principal_id=identity.principal_id,
        **body.options(),
    )
    return await start_query(
        state,
        queries,
        conversations,
        identity,
        event,
        body.conversation_id,
        started=started,
        use_cache=body.cache,
    )


def answer_stream(
    state: GatewayState, queries: QueryRepository, query: StartedQuery
) -> AsyncGenerator[ServerSentEvent, None]:
    """The answer as SSE (see :mod:`gateway.answer_stream`): the cached one, or the
    live one of the query, published when the stream starts."""
    event = query.event
    if query.hit is not None:
        return cached_events(queries, event, query.hit, query.started)
    return answer_events(state, queries, event.tenant_id, event.query_id, publish=event)


async def answer_json(
    state: GatewayState, queries: QueryRepository, query: StartedQuery
) -> dict[str, Any]:
    """The answer as JSON (:func:`~gateway.answer_stream.ready_json`), cached or awaited.

    A fresh answer is stored in the answer cache before it is returned.

    Raises:
        HTTPException: 400 for retrieval options the services refused; 502 when
            the answer failed; 503 when the query could not be enqueued; 504 when
            no answer came within ``query_timeout_s``.
    """
    event = query.event
    if query.hit is not None:
        return await record_hit(queries, event, query.hit, query.started)
    with state.hub.watch(event.query_id) as queue:
        await publish_query(state, queries, event)
        final = await _final_event(queue, state.settings.query_timeout_s)
    if query.cache:
        await query.cache.settle(final)  # stored before we answer: an immediate repeat hits
    if isinstance(final, AnswerFailed):
        if final.code in REQUEST_ERRORS:
            raise HTTPException(400, f"{final.code}: {final.error}")
        raise HTTPException(502, f"the query failed: {final.code}")
    return ready_json(final, (time.perf_counter() - query.started) * 1000)


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


async def visible_query(
    queries: QueryRepository, identity: Identity, query_id: uuid.UUID
) -> QueryRecord:
    """The query, if the caller may see it (not in another user's private conversation).

    Raises:
        HTTPException: 404 for an unknown or hidden query.
    """
    record = await queries.get_visible(identity.tenant_id, query_id, identity.user_id)
    if record is None:
        raise HTTPException(404, "query not found")
    return record
