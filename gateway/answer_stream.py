"""An answer as Server-Sent Events, from the start or resumed after a given delta.

Events: ``query`` (``{"query_id"}``, only when the stream starts the query),
``delta`` (``{"seq", "text"}``, SSE id = seq), ``citations`` (a list), ``done``
(the answer JSON, see :func:`ready_json`) or ``error`` (``{"code", "error"}``).

Resuming after seq ``k`` (``Last-Event-ID: k``) sends deltas ``k+1...`` and the
end. The sources, in order: this replica's memory of the stream
(:class:`~gateway.answer_hub.AnswerHub`), the live events, and Postgres
(``queries.deltas``, written with the answer before ``answer.ready`` is published),
which fills any delta this replica missed and serves finished answers for as long
as the query row is kept.
"""

import asyncio
import json
import time
from collections.abc import AsyncGenerator
from typing import Any
from uuid import UUID

from fastapi import HTTPException
from sse_starlette import ServerSentEvent

from gateway.answer_hub import AnswerHub
from gateway.conversation_turns import publish_query
from gateway.state import GatewayState
from ragbus.stores.queries import QueryRecord, QueryRepository
from schemas import AnswerDelta, AnswerFailed, AnswerReady, QueryRequested


def ready_json(ready: AnswerReady, total_ms: float | None) -> dict[str, Any]:
    """The public JSON of a finished answer (``done`` event, ``POST /v1/query``)."""
    return {
        "query_id": str(ready.query_id),
        "answer": ready.answer,
        "citations": [c.model_dump(mode="json") for c in ready.citations],
        "found": ready.found,
        "model": ready.model,
        "confidence": ready.confidence,
        "usage": ready.usage.model_dump(mode="json") if ready.usage else None,
        "timings": {
            "retrieve_ms": ready.timings.retrieve_ms,
            "generate_ms": ready.timings.generate_ms,
            "total_ms": total_ms,
        },
    }


def record_json(record: QueryRecord) -> dict[str, Any]:
    """The public JSON of a stored query, finished or not (``GET /v1/queries/{id}``).

    ``cached`` is true for an answer served from the answer cache, and
    ``cached_from`` then names the query that produced it.
    """
    return {
        "query_id": str(record.id),
        "status": record.status,
        "question": record.question,
        "standalone_question": record.standalone_question,
        "conversation_id": str(record.conversation_id) if record.conversation_id else None,
        "user_id": record.user_id,
        "answer": record.answer,
        "citations": record.citations,
        "found": record.found,
        "model": record.model,
        "confidence": record.confidence,
        "usage": record.usage,
        "timings": record.timings,
        "error_code": record.error_code,
        "error": record.error,
        "cached": record.cached_from is not None,
        "cached_from": str(record.cached_from) if record.cached_from else None,
        "created_at": record.created_at.isoformat() if record.created_at else None,
        "completed_at": record.completed_at.isoformat() if record.completed_at else None,
    }


def resume_after(last_event_id: str | None, after: int | None) -> int:
    """The ``seq`` of the last delta a resuming client has; -1 for none.

    Args:
        last_event_id: The ``Last-Event-ID`` header; it wins over ``after``.
        after: The ``?after=`` query parameter.

    Raises:
        HTTPException: 400 when ``last_event_id`` is not an integer.
    """
    after_seq = -1 if after is None else after
    if last_event_id:
        try:
            after_seq = int(last_event_id)
        except ValueError:
            raise HTTPException(400, "Last-Event-ID must be the seq of a delta") from None
    return after_seq


def _delta(seq: int, text: str) -> ServerSentEvent:
    return ServerSentEvent(json.dumps({"seq": seq, "text": text}), event="delta", id=str(seq))


def _from_record(record: QueryRecord, next_seq: int) -> list[ServerSentEvent]:
    """The rest of a finished query: deltas from ``next_seq``, then citations and done."""
    if record.status == "failed":
        body = {"code": record.error_code, "error": record.error}
        return [ServerSentEvent(json.dumps(body), event="error")]
    deltas = record.deltas if record.deltas is not None else [record.answer or ""]
    events = [_delta(seq, text) for seq, text in enumerate(deltas) if seq >= next_seq]
    done = record_json(record)
    events.append(ServerSentEvent(json.dumps(done["citations"]), event="citations"))
    events.append(ServerSentEvent(json.dumps(done), event="done"))
    return events


async def answer_events(
    state: GatewayState,
    queries: QueryRepository,
    tenant_id: str,
    query_id: UUID,
    *,
    after_seq: int = -1,
    publish: QueryRequested | None = None,
) -> AsyncGenerator[ServerSentEvent, None]:
    """Stream an answer as SSE, from delta ``after_seq + 1`` on.

    Args:
        state: The gateway state (hub, publisher, ``query_timeout_s``).
        queries: Query rows, for finished answers and deltas this replica missed.
        tenant_id: The caller's tenant (the row is read within it).
        query_id: The query.
        after_seq: The last delta the client has (its ``Last-Event-ID``); -1 for all.
        publish: The query to publish first, when this stream starts it.

    Yields:
        SSE events; the last is ``done`` or ``error`` (``timeout`` after
        ``query_timeout_s`` seconds, 180 by default).
    """
    hub: AnswerHub = state.hub
    started = time.perf_counter()
    next_seq = after_seq + 1
    with hub.watch(query_id) as queue:
        if publish is not None:
            await publish_query(state, queries, publish)
            yield ServerSentEvent(json.dumps({"query_id": str(query_id)}), event="query")
        else:
            kept = hub.snapshot(query_id)
            if kept is None or kept.final is not None:
                record = await queries.get(tenant_id, query_id)
                if record is not None and record.status != "pending":
                    for event in _from_record(record, next_seq):
                        yield event
                    return
            kept_deltas = kept.deltas if kept else {}
            while next_seq in kept_deltas:
                yield _delta(next_seq, kept_deltas[next_seq])
                next_seq += 1
            if kept is not None and kept.final is not None:
                queue.put_nowait(kept.final)  # seen here, though its row is not final
        try:
            async with asyncio.timeout(state.settings.query_timeout_s):
                while True:
                    item = await queue.get()
                    if isinstance(item, AnswerDelta):
                        if item.seq == next_seq:
                            yield _delta(item.seq, item.text)
                            next_seq += 1
                        continue  # older: sent already; newer: a gap, filled at the end
                    break
        except TimeoutError:
            yield ServerSentEvent(json.dumps({"code": "timeout"}), event="error")
            return
    if isinstance(item, AnswerFailed):
        body = {"code": item.code, "error": item.error}
        yield ServerSentEvent(json.dumps(body), event="error")
        return
    record = await queries.get(tenant_id, query_id)
    if record is not None and record.deltas is not None:
        for seq in range(next_seq, len(record.deltas)):
            yield _delta(seq, record.deltas[seq])
    body = ready_json(item, (time.perf_counter() - started) * 1000)
    yield ServerSentEvent(json.dumps(body["citations"]), event="citations")
    yield ServerSentEvent(json.dumps(body), event="done")
