"""OpenAI's chat completion shapes around a ragbus answer, whole or as chunks.

The logic of ``POST /v1/chat/completions`` (``gateway/routes/openai_chat.py``, where
the request and response fields are described). The question and its history come
from the messages (:func:`split_messages`); the answer comes from
:mod:`gateway.queries` and is reshaped: :func:`completion` for a whole
``chat.completion``, :func:`completion_chunks` for ``chat.completion.chunk`` SSE.
"""

import contextlib
import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import HTTPException
from pydantic import ConfigDict, Field, field_validator
from sse_starlette import ServerSentEvent

from gateway.conversation_store import ConversationRepository
from gateway.identity import Identity
from gateway.queries import answer_stream, start_query
from gateway.request_checks import RequestBody
from gateway.state import GatewayState
from ragbus.stores.queries import QueryRepository
from schemas import QueryRequested
from schemas.conversations import MAX_HISTORY_TURNS, Turn
from schemas.queries import MAX_TOP_K

MAX_MESSAGES = 256
"""Most messages in one chat request (the last one is asked; earlier ones are history)."""
MAX_MESSAGE_CHARS = 32_768
"""Longest message, in characters: a question, or an earlier turn kept as history."""


class ChatMessage(RequestBody):
    """One message; ``content`` is a string or OpenAI's list of ``{"type": "text"}`` parts,
    at most :data:`MAX_MESSAGE_CHARS` characters in all."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = Field(None, max_length=MAX_MESSAGE_CHARS)

    @field_validator("content")
    @classmethod
    def _capped(cls, value: Any) -> Any:
        if isinstance(value, list) and len(json.dumps(value)) > MAX_MESSAGE_CHARS:
            raise ValueError(f"content is over {MAX_MESSAGE_CHARS} characters")
        return value

    def text(self) -> str:
        """The text of the message (text parts joined, other parts ignored)."""
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatBody(RequestBody):
    """Body of ``POST /v1/chat/completions``; OpenAI fields not listed are ignored.

    At most :data:`MAX_MESSAGES` messages of at most :data:`MAX_MESSAGE_CHARS` each.
    """

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    model: str = Field("ragbus", max_length=256)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)
    conversation_id: uuid.UUID | None = None
    cache: bool = True


@dataclass(frozen=True, slots=True)
class ChatAnswer:
    """An answer under way, and the fields every reply shape carries.

    Attributes:
        events: The answer's SSE events (see :mod:`gateway.answer_stream`), not started.
        base: ``id`` (``chatcmpl-<query id hex>``), ``created`` (Unix seconds), ``model``.
    """

    events: AsyncGenerator[ServerSentEvent, None]
    base: dict[str, Any]


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


async def ask_chat(
    state: GatewayState,
    queries: QueryRepository,
    conversations: ConversationRepository,
    identity: Identity,
    body: ChatBody,
) -> ChatAnswer:
    """Record the last user message as a query and start its answer (cached or live).

    Raises:
        HTTPException: 422 without a user message; 404 for an unknown conversation;
            504 when condensing the question timed out.
    """
    started = time.perf_counter()
    question, history = split_messages(body.messages)
    event = QueryRequested(
        tenant_id=identity.tenant_id,
        query_id=uuid.uuid4(),
        question=question,
        top_k=body.top_k,
        user_id=identity.user_id,
        principal_id=identity.principal_id,
    )
    query = await start_query(
        state,
        queries,
        conversations,
        identity,
        event,
        body.conversation_id,
        started=started,
        use_cache=body.cache,
        history=history or None,
    )
    base = {
        "id": f"chatcmpl-{query.event.query_id.hex}",
        "created": int(time.time()),
        "model": body.model,
    }
    return ChatAnswer(events=answer_stream(state, queries, query), base=base)


async def completion(answer: ChatAnswer) -> dict[str, Any]:
    """The whole answer as a ``chat.completion`` object.

    Raises:
        HTTPException: 502 when the answer failed; 504 when none came in time.
    """
    async with contextlib.aclosing(answer.events):
        done = await _final(answer.events)
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": done["answer"]},
        "finish_reason": "stop",
        "logprobs": None,
    }
    return {
        **answer.base,
        "object": "chat.completion",
        "choices": [choice],
        "usage": _usage(done),
        **_extras(done),
    }


async def completion_chunks(answer: ChatAnswer) -> AsyncIterator[ServerSentEvent]:
    """Answer events as OpenAI ``chat.completion.chunk`` events, then ``[DONE]``.

    A failed answer ends the stream with ``{"error": {"message", "type": "ragbus"}}``
    instead of ``[DONE]``.
    """
    base = answer.base

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> ServerSentEvent:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        body = {**base, "object": "chat.completion.chunk", "choices": [choice], **extra}
        return ServerSentEvent(json.dumps(body))

    yield chunk({"role": "assistant", "content": ""})
    async for sse in answer.events:
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


def _extras(done: dict[str, Any]) -> dict[str, Any]:
    ragbus = {k: done[k] for k in ("query_id", "model", "found", "confidence", "timings")}
    ragbus["cached"] = bool(done.get("cached"))
    return {"citations": done["citations"], "ragbus": ragbus}


def _usage(done: dict[str, Any]) -> dict[str, int]:
    usage = done.get("usage") or {}
    prompt, generated = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": generated,
        "total_tokens": prompt + generated,
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
