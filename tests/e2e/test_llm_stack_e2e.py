"""The whole stack answering with an LLM: a local OpenAI-compatible server the test runs.

Real nats-server, Postgres, model and Qdrant local; generate_svc calls the fake
provider through litellm. The provider's behaviour is picked by the question.
"""

import asyncio
import functools
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from httpx_sse import aconnect_sse
from pydantic import SecretStr

from embed_svc.app import build as build_embed
from generate_svc.app import build as build_generate
from generate_svc.settings import GenerateSettings
from ingest_svc.app import build as build_ingest
from ragbus.settings import InfraSettings
from retrieve_svc.app import build as build_retrieve
from tests.credentials import bearer
from tests.e2e.stack import RunningStack, index_texts, running_stack
from tests.servers import serving

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PIECES = ["Call ", "`kill()` ", "on the ", "child ", "process ", "[1]."]
USAGE = {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333}
REWRITTEN = "How do I stop a running child process?"
DOC = (
    "The spawn function starts a new child process that runs the given command.\n"
    "To stop a running child process, call its kill method, which sends SIGTERM.\n"
)


def fake_provider() -> FastAPI:
    """Questions with ``BROKEN`` get 500; with ``SLOW`` 0.3 s between pieces; a
    condense request (non-streamed) gets :data:`REWRITTEN`."""
    app = FastAPI()

    def chunk(delta: dict[str, str], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        body = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "fake"}
        return f"data: {json.dumps({**body, 'choices': [choice]})}\n\n"

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> Any:
        body = await request.json()
        prompt = body["messages"][-1]["content"]
        if "BROKEN" in prompt:
            return JSONResponse({"error": {"message": "upstream exploded"}}, 500)
        if not body.get("stream"):
            message = {"role": "assistant", "content": REWRITTEN}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return {"id": "c", "object": "chat.completion", "created": 0, "model": "fake",
                    "choices": [choice], "usage": USAGE}  # fmt: skip
        pause = 0.3 if "SLOW" in prompt else 0.0

        async def events() -> AsyncIterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            for piece in PIECES:
                await asyncio.sleep(pause)
                yield chunk({"content": piece})
            yield chunk({}, "stop")
            usage = {"id": "c", "object": "chat.completion.chunk", "created": 0,
                     "model": "fake", "choices": [], "usage": USAGE}  # fmt: skip
            yield f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


@pytest.fixture(scope="module")
def provider_url() -> Iterator[str]:
    with serving(fake_provider()) as url:
        yield f"{url}/v1"


@pytest.fixture(scope="module")
async def llm_stack(
    nats_url, database_url, provider_url, tmp_path_factory
) -> AsyncIterator[RunningStack]:
    """Every service (generate_svc with the fake LLM) and the gateway; yields its URL."""
    infra = InfraSettings(
        nats_url=nats_url, database_url=database_url, data_dir=tmp_path_factory.mktemp("llm")
    )
    settings = GenerateSettings(
        llm_model="openai/fake",
        llm_api_base=provider_url,
        llm_api_key=SecretStr("sk-fake"),
        llm_max_retries=1,
        llm_backoff_s=0.01,
    )
    generate = functools.partial(build_generate, settings=settings)
    builders = [build_ingest, build_embed, build_retrieve, generate]
    async with running_stack(infra, builders=builders, name="ragbus-llm-test") as running:
        yield running


@pytest.fixture(scope="module")
async def http(llm_stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    tenant = f"llm-{uuid.uuid4().hex[:8]}"
    key, _ = await llm_stack.user(tenant, "dana")
    await index_texts(llm_stack.url, key, {"proc.txt": DOC})
    async with httpx.AsyncClient(
        base_url=llm_stack.url, headers=bearer(key), timeout=120
    ) as client:
        yield client


async def test_answer_records_model_tokens_and_confidence(http: httpx.AsyncClient) -> None:
    reply = await http.post("/v1/query", json={"question": "How do I stop a child process?"})

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["answer"] == "".join(PIECES)
    assert body["model"] == "openai/fake"
    assert body["citations"][0]["filename"] == "proc.txt"
    assert body["usage"] == {
        "prompt_tokens": 321,
        "completion_tokens": 12,
        "cost_usd": None,
        "attempts": 1,
    }
    stored = (await http.get(f"/v1/queries/{body['query_id']}")).json()
    assert stored["usage"]["prompt_tokens"] == 321
    assert stored["confidence"] == body["confidence"] > 0


async def test_provider_failure_becomes_answer_failed_with_its_reason(
    http: httpx.AsyncClient,
) -> None:
    question = "BROKEN: how do I stop a child process?"
    async with aconnect_sse(
        http, "POST", "/v1/query", json={"question": question, "stream": True}
    ) as source:
        events = [sse async for sse in source.aiter_sse()]

    assert [e.event for e in events] == ["query", "error"]
    error = json.loads(events[-1].data)
    assert error["code"] == "llm_unavailable"
    assert "after 2 attempt(s)" in error["error"] and "upstream exploded" in error["error"]
    query_id = json.loads(events[0].data)["query_id"]
    stored = (await http.get(f"/v1/queries/{query_id}")).json()
    assert (stored["status"], stored["error_code"]) == ("failed", "llm_unavailable")
    refused = await http.post("/v1/query", json={"question": question})
    assert refused.status_code == 502
    assert refused.json()["detail"] == "the query failed: llm_unavailable"


async def test_resume_mid_stream_gets_the_rest(http: httpx.AsyncClient) -> None:
    body = {"question": "SLOW: how do I stop a child process?", "stream": True}
    async with aconnect_sse(http, "POST", "/v1/query", json=body) as source:
        events = source.aiter_sse()
        query_id = json.loads((await anext(events)).data)["query_id"]
        first = await anext(events)
        assert (first.event, first.id) == ("delta", "0")
    # Dropped after the first of six pieces, 0.3 s apart: the answer is still streaming.

    headers = {"Last-Event-ID": "0"}
    async with aconnect_sse(
        http, "GET", f"/v1/queries/{query_id}/events", headers=headers
    ) as source:
        rest = [sse async for sse in source.aiter_sse()]

    deltas = [json.loads(e.data) for e in rest if e.event == "delta"]
    assert [d["seq"] for d in deltas] == [1, 2, 3, 4, 5]
    done = json.loads(rest[-1].data)
    assert json.loads(first.data)["text"] + "".join(d["text"] for d in deltas) == done["answer"]
    assert done["answer"] == "".join(PIECES)


async def test_follow_up_is_condensed_by_the_model(http: httpx.AsyncClient) -> None:
    conv = (await http.post("/v1/conversations", json={})).json()
    for question in ("How do I start a child process?", "And how do I stop it?"):
        reply = await http.post(
            "/v1/query", json={"question": question, "conversation_id": conv["id"]}
        )
        assert reply.status_code == 200, reply.text

    messages = (await http.get(f"/v1/conversations/{conv['id']}")).json()["messages"]
    assert messages[1]["standalone_question"] is None  # the first turn stands alone
    assert messages[3]["standalone_question"] == REWRITTEN


async def test_openai_client_streams_the_llm_answer_with_usage(
    llm_stack: RunningStack, http: httpx.AsyncClient
) -> None:
    async with openai.AsyncOpenAI(
        base_url=f"{llm_stack.url}/v1",
        api_key=http.headers["Authorization"].removeprefix("Bearer "),
        max_retries=0,
    ) as oai:
        stream = await oai.chat.completions.create(
            model="ragbus",
            messages=[{"role": "user", "content": "How do I stop a child process?"}],
            stream=True,
            extra_body={"cache": False},  # asked before: a cache hit would spend no tokens
        )
        chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "".join(PIECES)
    last = chunks[-1]
    assert last.usage is not None and last.usage.total_tokens == 333
    assert (last.model_extra or {})["ragbus"]["model"] == "openai/fake"
    assert (last.model_extra or {})["citations"][0]["n"] == 1
