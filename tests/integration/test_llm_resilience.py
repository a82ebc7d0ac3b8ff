"""Retries, Retry-After, fallbacks, deadlines and usage against a real local HTTP server.

The fake provider is an OpenAI-compatible FastAPI app served by uvicorn on a free
port in this process. Its behaviour is chosen by the model name in each request,
and it records every request with the time it arrived.
"""

import asyncio
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from generate_svc.llm_answerer import LiteLLMAnswerer
from ragbus.errors import PermanentError
from ragbus.llm.calls import GenerationStats, RetryPolicy
from ragbus.llm.client import LlmClient, import_litellm
from schemas.queries import Passage
from tests.servers import serving

pytestmark = pytest.mark.integration

litellm = import_litellm()

PIECES = ["Spawn ", "it with ", "`spawn()` [1]", "."]
USAGE = {"prompt_tokens": 123, "completion_tokens": 9, "total_tokens": 132}
PASSAGES = [
    Passage(
        chunk_id=uuid.uuid4(),
        document_id=uuid.uuid4(),
        filename="child_process.md",
        text="The child_process.spawn() method spawns a new process.",
        score=0.7,
    )
]


def sse(body: dict[str, Any]) -> str:
    return f"data: {json.dumps(body)}\n\n"


def chunk(model: str, delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


class FakeProvider:
    """Behaviour by model name: ``ok*`` answers; ``limited*`` sends 429 with
    ``Retry-After: <n>`` (``limited-<n>-...``) on its first request; ``broken*``
    always 500; ``hang*`` waits past any timeout; ``missing*`` is 404."""

    def __init__(self) -> None:
        self.requests: list[tuple[float, dict[str, Any]]] = []
        self.stop = threading.Event()

    def count(self, model: str) -> int:
        return Counter(body["model"] for _, body in self.requests)[model]

    def times(self, model: str) -> list[float]:
        return [t for t, body in self.requests if body["model"] == model]

    def app(self) -> FastAPI:
        app = FastAPI()

        def error(status: int, message: str, headers: dict[str, str] | None = None) -> Any:
            body = {"error": {"message": message, "type": "fake", "code": None}}
            return JSONResponse(body, status, headers=headers)

        @app.post("/v1/chat/completions")
        async def complete(request: Request) -> Any:
            body = await request.json()
            self.requests.append((time.monotonic(), body))
            model: str = body["model"]
            if model.startswith("broken"):
                return error(500, "upstream exploded")
            if model.startswith("missing"):
                return error(404, f"The model {model} does not exist")
            if model.startswith("limited") and self.count(model) == 1:
                wait = model.split("-")[1]
                return error(429, "slow down", {"Retry-After": wait})
            if model.startswith("hang"):
                await asyncio.to_thread(self.stop.wait, 30)  # until teardown
            if not body.get("stream"):
                message = {"role": "assistant", "content": "".join(PIECES)}
                return {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": 0,
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": USAGE,
                }

            async def events() -> AsyncIterator[str]:
                yield sse(chunk(model, {"role": "assistant", "content": ""}))
                for piece in PIECES:
                    yield sse(chunk(model, {"content": piece}))
                yield sse(chunk(model, {}, finish="stop"))
                if (body.get("stream_options") or {}).get("include_usage"):
                    yield sse({**chunk(model, {}), "choices": [], "usage": USAGE})
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        return app


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[str, FakeProvider]]:
    """The fake provider on a free 127.0.0.1 port; yields its ``/v1`` URL and itself."""
    fake = FakeProvider()
    with serving(fake.app()) as url:
        yield f"{url}/v1", fake
        fake.stop.set()


def client(base: str, *models: str, **policy: float) -> LlmClient:
    return LlmClient(
        [f"openai/{m}" for m in models],
        api_base=base,
        api_key="sk-fake",
        timeout_s=float(policy.pop("timeout_s", 10.0)),
        policy=RetryPolicy(**{"backoff_s": 0.01, **policy}),  # type: ignore[arg-type]
    )


def llm(base: str, *models: str, **policy: float) -> LiteLLMAnswerer:
    return LiteLLMAnswerer(client(base, *models, **policy))


async def answer(answerer: LiteLLMAnswerer, stats: GenerationStats) -> str:
    return "".join([piece async for piece in answerer.stream("How?", PASSAGES, stats)])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_streams_and_records_tokens_and_cost(provider) -> None:
    base, fake = provider
    stats = GenerationStats()

    text = await answer(llm(base, "gpt-4o-mini"), stats)

    assert text == "".join(PIECES)
    assert (stats.model, stats.attempts) == ("openai/gpt-4o-mini", 1)
    assert (stats.prompt_tokens, stats.completion_tokens) == (123, 9)
    prompt_cost, completion_cost = litellm.cost_per_token(
        model="openai/gpt-4o-mini", prompt_tokens=123, completion_tokens=9
    )
    assert stats.cost_usd == pytest.approx(prompt_cost + completion_cost)
    assert stats.cost_usd is not None and stats.cost_usd > 0
    sent = fake.requests[-1][1]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert "[1] (child_process.md)" in sent["messages"][1]["content"]


async def test_429_is_retried_after_the_wait_the_provider_asks(provider) -> None:
    base, fake = provider
    model = unique("limited-1")
    stats = GenerationStats()

    text = await answer(llm(base, model), stats)

    assert text == "".join(PIECES)
    assert stats.attempts == 2 and stats.failures == [f"openai/{model}: llm_rate_limited"]
    first, second = fake.times(model)
    assert second - first >= 0.95  # Retry-After: 1, where the backoff alone is 0.01 s
    assert stats.usage() is not None and stats.usage().cost_usd is None  # unknown model


async def test_500_is_retried_then_fails_the_answer_with_every_reason(provider) -> None:
    base, fake = provider
    model = unique("broken")
    stats = GenerationStats()

    with pytest.raises(PermanentError) as info:
        await answer(llm(base, model, max_retries=2), stats)

    assert info.value.code == "llm_unavailable"
    assert fake.count(model) == 3
    assert f"after 3 attempt(s) (openai/{model}: llm_unavailable" in str(info.value)
    assert "upstream exploded" in str(info.value)


async def test_timeout_fails_the_answer(provider) -> None:
    base, fake = provider
    model = unique("hang")

    with pytest.raises(PermanentError) as info:
        await answer(llm(base, model, max_retries=1, timeout_s=0.5), GenerationStats())

    assert info.value.code == "llm_timeout"
    assert fake.count(model) == 2


async def test_falls_back_to_the_next_model_in_order(provider) -> None:
    base, fake = provider
    broken, missing, good = unique("broken"), unique("missing"), unique("ok")
    stats = GenerationStats()

    text = await answer(llm(base, broken, missing, good, max_retries=1), stats)

    assert text == "".join(PIECES)
    assert stats.model == f"openai/{good}"
    assert stats.failures == [
        f"openai/{broken}: llm_unavailable",
        f"openai/{broken}: llm_unavailable",
        f"openai/{missing}: llm_bad_request",  # a refusal is not retried on the same model
    ]
    assert (fake.count(broken), fake.count(missing), fake.count(good)) == (2, 1, 1)


async def test_a_retry_after_beyond_the_longest_wait_moves_on_at_once(provider) -> None:
    base, fake = provider
    slow, good = unique("limited-3600"), unique("ok")
    stats = GenerationStats()

    text = await answer(llm(base, slow, good, max_backoff_s=5), stats)

    assert text == "".join(PIECES)
    assert (fake.count(slow), stats.model) == (1, f"openai/{good}")


async def test_deadline_stops_retrying(provider) -> None:
    base, fake = provider
    model = unique("limited-2")

    with pytest.raises(PermanentError) as info:
        await answer(llm(base, model, deadline_s=1.0), GenerationStats())

    assert info.value.code == "llm_deadline"
    assert fake.count(model) == 1  # waiting 2 s would pass the 1 s deadline


async def test_complete_uses_the_same_fallbacks(provider) -> None:
    base, _ = provider
    stats = GenerationStats()
    calls = client(base, unique("missing"), unique("ok"))

    reply = await calls.complete([{"role": "user", "content": "hi"}], stats)

    assert reply == "".join(PIECES)
    assert stats.attempts == 2
