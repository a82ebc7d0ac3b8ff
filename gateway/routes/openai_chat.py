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

import contextlib
import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from gateway.answer_cache_hits import cached_events
from gateway.answer_stream import answer_events
from gateway.conversation_turns import ConversationsDep, QueriesDep, begin_turn
from gateway.identity import IdentityDep
from gateway.state import StateDep
from schemas import QueryRequested
from schemas.conversations import MAX_HISTORY_TURNS, Turn
from schemas.queries import MAX_TOP_K

router = APIRouter(prefix="/v1", tags=["openai"])


class ChatMessage(BaseModel):
    """One message; ``content`` is a string or OpenAI's list of ``{"type": "text"}`` parts."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The text of the message (text parts joined, other parts ignored)."""
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatBody(BaseModel):
    """Body of ``POST /v1/chat/completions``; OpenAI fields not listed are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = "ragbus"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)
    conversation_id: uuid.UUID | None = None
    cache: bool = True


def split_messages(messages: list[ChatMessage]) -> tuple[str, list[Turn]]:
    """The question (last user message) and the earlier turns, oldest first.

    Raises:
        HTTPException: 422 when no user message has text.
    """
    users = [i for i, m in enumerate(messages) if m.role == "user" and m.text().strip()]
    if not users:
        raise HTTPException(422, "messages need a user message with text")
    last = users[-1]
    turns: list[Turn] = []
    for message in messages[:last]:
        if message.role == "user" and message.text().strip():
            turns.append(Turn(question=message.text()[:8192]))
        elif message.role == "assistant" and turns and not turns[-1].answer:
            turns[-1] = Turn(question=turns[-1].question, answer=message.text())
    return messages[last].text()[:8192], turns[-MAX_HISTORY_TURNS:]


def _extras(done: dict[str, Any]) -> dict[str, Any]:
    ragbus = {k: done[k] for k in ("query_id", "model", "found", "confidence", "timings")}
    ragbus["cached"] = bool(done.get("cached"))
    return {"citations": done["citations"], "ragbus": ragbus}


def _usage(done: dict[str, Any]) -> dict[str, int]:
    usage = done.get("usage") or {}
    prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    state: StateDep,
    identity: IdentityDep,
    body: ChatBody,
    queries: QueriesDep,
    conversations: ConversationsDep,
) -> dict[str, Any] | EventSourceResponse:
    """Answer the last user message from the tenant's documents, OpenAI-style.

    Raises:
        HTTPException: 422 without a user message; 404 for an unknown conversation;
            502 when the answer failed; 504 when none came in time.
    """
    started = time.perf_counter()
    question, history = split_messages(body.messages)
    event = QueryRequested(
        tenant_id=identity.tenant_id,
        query_id=uuid.uuid4(),
        question=question,
        top_k=body.top_k,
        user_id=identity.user_id,
    )
    event = await begin_turn(
        state,
        queries,
        conversations,
        identity,
        event,
        body.conversation_id,
        history=history or None,
    )
    cache = state.answer_cache if body.cache else None
    hit = await cache.check(event) if cache else None
    if hit is not None:
        events = cached_events(queries, event, hit, started)
    else:
        events = answer_events(state, queries, identity.tenant_id, event.query_id, publish=event)
    base = {
        "id": f"chatcmpl-{event.query_id.hex}",
        "created": int(time.time()),
        "model": body.model,
    }
    if body.stream:
        return EventSourceResponse(_chunks(events, base))
    async with contextlib.aclosing(events):
        done = await _final(events)
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": done["answer"]},
        "finish_reason": "stop",
        "logprobs": None,
    }
    return {
        **base,
        "object": "chat.completion",
        "choices": [choice],
        "usage": _usage(done),
        **_extras(done),
    }


async def _final(events: AsyncGenerator[ServerSentEvent, None]) -> dict[str, Any]:
    """The ``done`` payload of an answer stream.

    Raises:
        HTTPException: 502 when the answer failed; 504 when none came in time.
    """
    async for sse in events:
        if sse.event == "error":
            error = json.loads(str(sse.data))
            status = 504 if error.get("code") == "timeout" else 502
            raise HTTPException(status, f"the query failed: {error.get('code')}")
        if sse.event == "done":
            return dict(json.loads(str(sse.data)))
    raise HTTPException(502, "the answer stream ended without an answer")


async def _chunks(
    events: AsyncIterator[ServerSentEvent], base: dict[str, Any]
) -> AsyncIterator[ServerSentEvent]:
    """Answer events as OpenAI ``chat.completion.chunk`` events, then ``[DONE]``."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> ServerSentEvent:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        body = {**base, "object": "chat.completion.chunk", "choices": [choice], **extra}
        return ServerSentEvent(json.dumps(body))

    yield chunk({"role": "assistant", "content": ""})
    async for sse in events:
        if sse.event == "delta":
            yield chunk({"content": json.loads(str(sse.data))["text"]})
        elif sse.event == "done":
            done = json.loads(str(sse.data))
            yield chunk({}, "stop", usage=_usage(done), **_extras(done))
        elif sse.event == "error":
            error = json.loads(str(sse.data))
            message = f"the query failed: {error.get('code')}"
            yield ServerSentEvent(json.dumps({"error": {"message": message, "type": "ragbus"}}))
            return
    yield ServerSentEvent("[DONE]")
