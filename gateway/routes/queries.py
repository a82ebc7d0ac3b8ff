"""``/v1/retrieve`` and ``/v1/query``: questions become events, answers come back.

The logic is in :mod:`gateway.queries`.
"""

from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse

from gateway.api_models import Answer, Retrieved, typed
from gateway.conversation_turns import ConversationsDep, QueriesDep
from gateway.errors import ERRORS
from gateway.identity import AskerDep
from gateway.queries import (
    QueryBody,
    RetrieveBody,
    answer_json,
    answer_stream,
    ask,
    retrieve_passages,
)
from gateway.state import StateDep

router = APIRouter(prefix="/v1", tags=["queries"], responses=ERRORS)


@router.post("/retrieve", **typed(Retrieved))
async def retrieve(state: StateDep, identity: AskerDep, body: RetrieveBody) -> dict[str, Any]:
    """Top-k passages for a question, without generation (NATS request-reply)."""
    return await retrieve_passages(state, identity.tenant_id, body)


@router.post(
    "/query",
    response_model=None,
    responses={
        200: {
            "model": Answer,
            "description": "JSON, or SSE (stream): query, delta..., citations, done or error",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def query(
    request: Request,
    state: StateDep,
    identity: AskerDep,
    body: QueryBody,
    queries: QueriesDep,
    conversations: ConversationsDep,
) -> dict[str, Any] | EventSourceResponse:
    """Answer a question with citations, as JSON or as SSE ``delta``/``citations``/``done``.

    With ``conversation_id`` the question is a turn of that conversation, condensed
    with its history when it follows earlier turns (see ``gateway.conversation_turns``). A
    cached answer (``gateway.answer_cache``) is served without publishing anything.
    """
    started = await ask(state, queries, conversations, identity, body)
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        return EventSourceResponse(answer_stream(state, queries, started))
    return await answer_json(state, queries, started)
