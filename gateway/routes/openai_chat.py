"""``POST /v1/chat/completions``: ragbus behind OpenAI's chat API, streamed or not.

Point any OpenAI client at ``http://<gateway>/v1`` (the API key is ignored; the
tenant comes from ``X-Tenant-ID`` as everywhere). The last ``user`` message is the
question; earlier ``user``/``assistant`` pairs are the history it is condensed with;
``system`` messages are ignored (ragbus uses its own grounded prompt).

Beyond OpenAI's fields, a response carries ``citations`` (the ``Citation`` objects
of ``answer.ready``; the text cites them as ``[n]``) and ``ragbus``
(``{"query_id", "model", "found", "confidence", "timings", "cached"}``); when streamed, both
are in the last chunk, the one with ``finish_reason: "stop"``. Extra request fields:
``top_k`` (passages, 1-100), ``conversation_id`` (store the turn there) and
``cache`` (false: answer afresh, bypassing the answer cache).
"""

from typing import Any

from fastapi import APIRouter
from sse_starlette import EventSourceResponse

from gateway.chat_completions import ChatBody, ask_chat, completion, completion_chunks
from gateway.conversation_turns import ConversationsDep, QueriesDep
from gateway.errors import ERRORS
from gateway.identity import AskerDep
from gateway.state import StateDep

router = APIRouter(prefix="/v1", tags=["openai"], responses=ERRORS)


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    state: StateDep,
    identity: AskerDep,
    body: ChatBody,
    queries: QueriesDep,
    conversations: ConversationsDep,
) -> dict[str, Any] | EventSourceResponse:
    """Answer the last user message from the tenant's documents, OpenAI-style.

    Raises:
        HTTPException: 422 without a user message; 404 for an unknown conversation;
            502 when the answer failed; 504 when none came in time.
    """
    answer = await ask_chat(state, queries, conversations, identity, body)
    if body.stream:
        return EventSourceResponse(completion_chunks(answer))
    return await completion(answer)
