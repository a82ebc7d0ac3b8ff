"""``/v1/queries``: query history, a finished answer, and resuming a streamed one."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse

from gateway.answer_stream import answer_events, record_json, resume_after
from gateway.api_models import QueryList, QueryRecord, typed
from gateway.conversation_turns import QueriesDep
from gateway.errors import ERRORS
from gateway.identity import AskerDep
from gateway.queries import visible_query
from gateway.state import StateDep

router = APIRouter(prefix="/v1/queries", tags=["queries"], responses=ERRORS)
SSE = {"text/event-stream": {"schema": {"type": "string"}}}


@router.get("", **typed(QueryList))
async def list_queries(
    identity: AskerDep,
    queries: QueriesDep,
    limit: int = Query(50, ge=1, le=1000),
    conversation_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The tenant's queries the caller may see, newest first.

    Queries in another user's private conversation are left out.
    """
    records = await queries.list(
        identity.tenant_id, limit, user_id=identity.user_id, conversation_id=conversation_id
    )
    return {"queries": [record_json(r) for r in records]}


@router.get("/{query_id}", **typed(QueryRecord))
async def get_query(query_id: uuid.UUID, identity: AskerDep, queries: QueriesDep) -> dict[str, Any]:
    """One query: ``pending``, ``answered`` (answer, citations, timings) or ``failed``."""
    return record_json(await visible_query(queries, identity, query_id))


@router.get(
    "/{query_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"description": "SSE: delta..., citations, done or error", "content": SSE}},
)
async def resume_query(
    query_id: uuid.UUID,
    identity: AskerDep,
    state: StateDep,
    queries: QueriesDep,
    last_event_id: Annotated[str | None, Header()] = None,
    after: int | None = Query(None, ge=-1, description="seq of the last delta received"),
) -> EventSourceResponse:
    """Resume an answer's SSE stream after the delta named by ``Last-Event-ID``.

    Sends the deltas after that ``seq``, then ``citations`` and ``done`` (or
    ``error``), whether the answer is still streaming or already finished. Without
    ``Last-Event-ID`` (or ``?after=``) it sends the whole answer.

    Raises:
        HTTPException: 404 for an unknown query; 400 for a ``Last-Event-ID`` that
            is not a delta's ``seq``.
    """
    await visible_query(queries, identity, query_id)
    after_seq = resume_after(last_event_id, after)
    stream = answer_events(state, queries, identity.tenant_id, query_id, after_seq=after_seq)
    return EventSourceResponse(stream)
