"""LiteLLMAnswerer against a local OpenAI-compatible server started by the test."""

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import SecretStr

from generate_svc.app import build_answerer
from generate_svc.llm_answerer import LiteLLMAnswerer
from generate_svc.prompts import NOT_FOUND_ANSWER
from generate_svc.settings import GenerateSettings
from ragbus.embedding import FakeEmbedder
from ragbus.errors import PermanentError, RetryableError
from ragbus.llm.calls import RetryPolicy
from ragbus.llm.client import LlmClient, import_litellm
from ragbus.llm.errors import classify_error
from schemas.queries import Passage
from tests.servers import serving

pytestmark = pytest.mark.integration

litellm = import_litellm()

PIECES = ["Use ", "`spawn()`", " and listen to ", "`stdout` [1]", "."]
QUESTION = "How do I spawn a child process and read its output?"
PASSAGES = [
    Passage(
        chunk_id=uuid.uuid4(),
        document_id=uuid.uuid4(),
        filename="child_process.md",
        heading="Child process",
        text="The child_process.spawn() method spawns a new process.",
        score=0.71,
    ),
    Passage(
        chunk_id=uuid.uuid4(),
        document_id=uuid.uuid4(),
        filename="report.pdf",
        page=3,
        text="Bread is baked in a hot oven.",
        score=0.12,
    ),
]


def chunk(delta: dict[str, str], finish: str | None = None) -> str:
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "test-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


def make_app(requests: list[dict[str, Any]], stop: threading.Event) -> FastAPI:
    app = FastAPI()

    def error(status: int, message: str, kind: str) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind, "code": None}}, status)

    @app.post("/{mode}/v1/chat/completions")
    async def complete(mode: str, request: Request) -> Any:
        requests.append({"mode": mode, **await request.json()})
        if mode == "fail500":
            return error(500, "upstream exploded", "server_error")
        if mode == "fail401":
            return error(401, "Incorrect API key provided", "invalid_request_error")
        if mode == "hang":  # far past the client's 1 s timeout, until teardown
            for _ in range(100):
                if stop.is_set():
                    break
                await asyncio.sleep(0.05)

        async def events() -> AsyncIterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            for piece in PIECES:
                yield chunk({"content": piece})
            yield chunk({}, finish="stop")
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Run the fake provider on a free 127.0.0.1 port; yields its root URL and requests."""
    requests: list[dict[str, Any]] = []
    stop = threading.Event()
    with serving(make_app(requests, stop), timeout_graceful_shutdown=1) as url:
        yield url, requests
        stop.set()


def answerer(root: str, mode: str, timeout_s: float = 10.0) -> LiteLLMAnswerer:
    llm = LlmClient(
        ["openai/test-model"],
        api_base=f"{root}/{mode}/v1",
        api_key="sk-test-dummy",
        timeout_s=timeout_s,
        temperature=0.1,
        max_tokens=64,
        policy=RetryPolicy(max_retries=0),  # retries: tests/integration/test_llm_resilience.py
    )
    return LiteLLMAnswerer(llm)


async def collect(llm: LiteLLMAnswerer) -> list[str]:
    return [delta async for delta in llm.stream(QUESTION, PASSAGES)]


async def test_streams_the_servers_text_and_sends_the_numbered_passages(server) -> None:
    root, requests = server

    deltas = await collect(answerer(root, "ok"))

    assert "".join(deltas) == "".join(PIECES)
    assert len(deltas) > 1
    sent = [r for r in requests if r["mode"] == "ok"][-1]
    assert sent["model"] == "test-model"
    assert sent["stream"] is True
    assert sent["max_tokens"] == 64
    system, user = sent["messages"]
    assert system["role"] == "system" and "[1]" in system["content"]
    assert "[1] (child_process.md, Child process)\nThe child_process.spawn()" in user["content"]
    assert "[2] (report.pdf, p. 3)\nBread is baked" in user["content"]
    assert user["content"].endswith(f"Question: {QUESTION}")


async def test_server_error_fails_the_answer_and_litellm_does_not_retry_it(server) -> None:
    root, requests = server
    before = sum(r["mode"] == "fail500" for r in requests)

    with pytest.raises(PermanentError, match="upstream exploded") as info:
        await collect(answerer(root, "fail500"))

    assert info.value.code == "llm_unavailable"

    assert sum(r["mode"] == "fail500" for r in requests) - before == 1


async def test_bad_key_is_permanent(server) -> None:
    root, _ = server

    with pytest.raises(PermanentError, match="Incorrect API key") as info:
        await collect(answerer(root, "fail401"))

    assert info.value.code == "llm_auth_failed"


async def test_hanging_server_times_out_and_fails_the_answer(server) -> None:
    root, _ = server

    with pytest.raises(PermanentError) as info:
        await collect(answerer(root, "hang", timeout_s=1.0))

    assert info.value.code == "llm_timeout"


async def test_no_passages_answers_not_found_without_calling_the_model(server) -> None:
    root, requests = server
    before = len(requests)

    deltas = [d async for d in answerer(root, "ok").stream(QUESTION, [])]

    assert deltas == [NOT_FOUND_ANSWER]
    assert len(requests) == before


def test_build_answerer_uses_the_llm_when_a_model_is_set() -> None:
    settings = GenerateSettings(
        llm_model="openai/test-model", llm_api_base="http://x/v1", llm_api_key=SecretStr("k")
    )

    built = build_answerer(settings, FakeEmbedder(), LlmClient.from_settings(settings))

    assert isinstance(built, LiteLLMAnswerer)
    assert built.model == "openai/test-model"


@pytest.mark.parametrize(
    ("make", "kind", "code"),
    [
        (
            lambda: litellm.RateLimitError("slow down", "openai", "m"),
            RetryableError,
            "llm_rate_limited",
        ),
        (lambda: litellm.Timeout("took too long", "m", "openai"), RetryableError, "llm_timeout"),
        (
            lambda: litellm.APIConnectionError("refused", "openai", "m"),
            RetryableError,
            "llm_unavailable",
        ),
        (
            lambda: litellm.ServiceUnavailableError("503", "openai", "m"),
            RetryableError,
            "llm_unavailable",
        ),
        (
            lambda: litellm.NotFoundError("no such model", "m", "openai"),
            PermanentError,
            "llm_bad_request",
        ),
        (
            lambda: litellm.ContextWindowExceededError("too long", "m", "openai"),
            PermanentError,
            "llm_bad_request",
        ),
    ],
)
def test_classify_error(make, kind, code) -> None:
    error = classify_error(make())

    assert type(error) is kind
    assert error.code == code


def test_non_provider_errors_are_not_classified() -> None:
    assert classify_error(ValueError("a bug")) is None
