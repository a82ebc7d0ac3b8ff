"""OpenAI's chat completion shapes around a ragbus answer, whole or as chunks.

The logic of ``POST /v1/chat/completions`` (``gateway/routes/openai_chat.py``, where
the request and response fields are described). The question and its history come
from the messages (:func:`gateway.chat_requests.split_messages`); the answer comes from
:mod:`gateway.queries` and is reshaped: :func:`completion` for a whole
``chat.completion``, :func:`completion_chunks` for ``chat.completion.chunk`` SSE.
"""

import contextlib
import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from sse_starlette import ServerSentEvent

from gateway.chat_requests import ChatBody, split_messages
from gateway.conversation_store import ConversationRepository
from gateway.identity import Identity
from gateway.openai_errors import OpenAIError, openai_body
from gateway.queries import answer_stream, start_query
from gateway.state import GatewayState
from ragbus.stores.queries import QueryRepository
from schemas import QueryRequested


@dataclass(frozen=True, slots=True)
class ChatAnswer:
    """An answer under way, and the fields every reply shape carries.

    Attributes:
        events: The answer's SSE events (see :mod:`gateway.answer_stream`), not started.
        base: ``id`` (``chatcmpl-<query id hex>``), ``created`` (Unix seconds), ``model``.
    """

    events: AsyncGenerator[ServerSentEvent, None]
    base: dict[str, Any]


async def ask_chat(
    state: GatewayState,
    queries: QueryRepository,
    conversations: ConversationRepository,
    identity: Identity,
    body: ChatBody,
) -> ChatAnswer:
    """Record the last user message as a query and start its answer (cached or live).

    ``max_tokens``, ``temperature``, ``stop`` and ``user`` travel on the event
    (``generation``); a request that sets one of the first three is answered afresh,
    bypassing the answer cache, since they change the answer's text.

    Raises:
        OpenAIError: 400 without a user message.
        HTTPException: 404 for an unknown conversation; 504 when condensing the
            question timed out.
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
        generation=body.generation(),
    )
    query = await start_query(
        state,
        queries,
        conversations,
        identity,
        event,
        body.conversation_id,
        started=started,
        use_cache=body.cache and not body.shapes_the_answer(),
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

    ``citations`` (see :func:`numbered`) is both on the message and at the top.

    Raises:
        OpenAIError: 502 when the answer failed; 504 when none came in time.
    """
    async with contextlib.aclosing(answer.events):
        done = await _final(answer.events)
    message = {"role": "assistant", "content": done["answer"], "citations": numbered(done)}
    choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
    return {
        **answer.base,
        "object": "chat.completion",
        "choices": [choice],
        "usage": _usage(done),
        **_extras(done),
    }


async def completion_chunks(answer: ChatAnswer) -> AsyncIterator[ServerSentEvent]:
    """Answer events as OpenAI ``chat.completion.chunk`` events, then ``[DONE]``.

    The last chunk (``finish_reason: "stop"``) carries ``usage``, ``citations`` and
    ``ragbus``; ``citations`` is also in its ``delta``, which the SDKs' stream
    helpers accumulate into the final message (``message.citations``). A failed
    answer ends the stream with ``{"error": {"message", "type": "server_error",
    "code"}}`` instead of ``[DONE]``.
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
            delta = {"citations": numbered(done)}
            yield chunk(delta, "stop", usage=_usage(done), **_extras(done))
        elif sse.event == "error":
            code = json.loads(str(sse.data)).get("code")
            body = openai_body(502, f"the query failed: {code}", code=code)
            yield ServerSentEvent(json.dumps(body))
            return
    yield ServerSentEvent("[DONE]")


def numbered(done: dict[str, Any]) -> list[dict[str, Any] | None]:
    """The answer's citations indexed as its ``[n]`` markers: entry ``n-1`` is the
    citation of ``[n]``, and ``None`` stands for a passage number the answer skips
    (an answer citing [1] and [3] gets ``[c1, None, c3]``)."""
    cited = {c["n"]: c for c in done["citations"]}
    return [cited.get(n) for n in range(1, max(cited, default=0) + 1)]


def _extras(done: dict[str, Any]) -> dict[str, Any]:
    ragbus = {k: done[k] for k in ("query_id", "model", "found", "confidence", "timings")}
    ragbus["cached"] = bool(done.get("cached"))
    return {"citations": numbered(done), "ragbus": ragbus}


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
        OpenAIError: 502 when the answer failed (``code`` is the query's failure
            code, e.g. ``llm_unavailable``); 504 when none came in time.
    """
    async for sse in events:
        if sse.event == "error":
            code = json.loads(str(sse.data)).get("code")
            status = 504 if code == "timeout" else 502
            raise OpenAIError(status, f"the query failed: {code}", code=code)
        if sse.event == "done":
            return dict(json.loads(str(sse.data)))
    raise OpenAIError(502, "the answer stream ended without an answer", code="answer_failed")
