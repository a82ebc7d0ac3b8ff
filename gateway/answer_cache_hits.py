"""A cache hit answered like a live answer: the same JSON, the same SSE events.

The hit is still a query of its own: its row (``pending`` since ``begin_turn``) is
completed with the cached answer, so it is in the query history and, with a
``conversation_id``, a turn of the conversation. What tells it apart is
``cached: true`` and ``cached_from`` (the query that produced the answer), no
``usage`` (no LLM was called) and no ``retrieve_ms``/``generate_ms``.
"""

import json
import time
from collections.abc import AsyncGenerator
from typing import Any

from sse_starlette import ServerSentEvent

from gateway.answer_cache import CachedAnswer
from gateway.answer_stream import ready_json
from ragbus.stores.queries import QueryRepository
from schemas import AnswerReady, QueryRequested
from schemas.queries import Timings


async def record_hit(
    queries: QueryRepository, event: QueryRequested, hit: CachedAnswer, started: float
) -> dict[str, Any]:
    """Complete ``event``'s query row with the cached answer; returns the answer JSON.

    Args:
        queries: Query rows.
        event: The query as published would have been (its row exists).
        hit: The cached answer.
        started: ``time.perf_counter()`` when the request began, for ``total_ms``.

    Returns:
        The JSON of ``POST /v1/query`` plus ``cached`` and ``cached_from``.

    Raises:
        RetryableError: Postgres was unreachable.
    """
    ready: AnswerReady = hit.ready.model_copy(
        update={
            "query_id": event.query_id,
            "question": event.question,
            "timings": Timings(),
            "usage": None,
        }
    )
    total_ms = (time.perf_counter() - started) * 1000
    await queries.complete(
        event.tenant_id,
        event.query_id,
        answer=ready.answer,
        citations=[c.model_dump(mode="json") for c in ready.citations],
        timings={"total_ms": total_ms},
        model=ready.model,
        found=ready.found,
        deltas=[ready.answer],
        confidence=ready.confidence,
        cached_from=hit.source_query_id,
    )
    body = ready_json(ready, total_ms)
    body["cached"] = True
    body["cached_from"] = str(hit.source_query_id) if hit.source_query_id else None
    return body


async def cached_events(
    queries: QueryRepository, event: QueryRequested, hit: CachedAnswer, started: float
) -> AsyncGenerator[ServerSentEvent, None]:
    """The SSE events of a live answer for a hit: ``query``, one ``delta``, ``citations``, ``done``.

    The row is completed before the first event, so a client that reconnects with
    ``Last-Event-ID`` is served from Postgres like any finished answer.
    """
    body = await record_hit(queries, event, hit, started)
    yield ServerSentEvent(json.dumps({"query_id": str(event.query_id)}), event="query")
    yield ServerSentEvent(json.dumps({"seq": 0, "text": body["answer"]}), event="delta", id="0")
    yield ServerSentEvent(json.dumps(body["citations"]), event="citations")
    yield ServerSentEvent(json.dumps(body), event="done")
