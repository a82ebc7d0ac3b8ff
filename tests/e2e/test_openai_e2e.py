"""The official ``openai`` client against ``/v1/chat/completions`` on the whole stack.

Real nats-server, Postgres, model and Qdrant local; the offline extractive answerer.
"""

import contextlib
import uuid
from collections.abc import AsyncIterator

import openai
import pytest

from tests.e2e.stack import RunningStack, index_texts

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

DOC = """\
The spawn function starts a new child process that runs the given command.
The output of the child process is read from its stdout stream by listening for data events.
To stop a running child process, call its kill method, which sends the SIGTERM signal by default.
"""
OTHER = "Sourdough bread is leavened with a starter of wild yeast and lactic acid bacteria.\n"


@pytest.fixture(scope="module")
async def tenant(stack: RunningStack) -> str:
    name = f"oai-{uuid.uuid4().hex[:8]}"
    await index_texts(stack.url, await stack.key(name), {"processes.txt": DOC, "bread.txt": OTHER})
    return name


@contextlib.asynccontextmanager
async def client(stack: RunningStack, tenant: str) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official client, authenticated by the tenant's ragbus key alone (``api_key``)."""
    key = await stack.key(tenant)
    async with openai.AsyncOpenAI(
        base_url=f"{stack.url}/v1", api_key=key, max_retries=0, timeout=120
    ) as oai:
        yield oai


async def test_non_streamed_completion_has_text_citations_and_usage(
    stack: RunningStack, tenant: str
) -> None:
    async with client(stack, tenant) as oai:
        completion = await oai.chat.completions.create(
            model="ragbus",
            messages=[
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": "How do I read the output of a child process?"},
            ],
        )
    assert completion.object == "chat.completion"
    text = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert text is not None and "stdout" in text and "[1]" in text
    extra = completion.model_extra or {}
    assert extra["citations"][0]["n"] == 1
    assert extra["citations"][0]["filename"] == "processes.txt"
    assert extra["ragbus"]["found"] is True and 0 < extra["ragbus"]["confidence"] <= 1
    assert completion.usage is not None and completion.usage.total_tokens == 0  # offline


async def test_streamed_completion_joins_to_the_answer_and_ends_with_citations(
    stack: RunningStack, tenant: str
) -> None:
    async with client(stack, tenant) as oai:
        stream = await oai.chat.completions.create(
            model="ragbus",
            messages=[
                {"role": "user", "content": "How do I start a child process?"},
                {"role": "assistant", "content": "Use spawn [1]."},
                {"role": "user", "content": "And how do I stop it?"},
            ],
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "kill" in text
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    citations = (last.model_extra or {})["citations"]
    assert citations
    assert {f"[{c['n']}]" for c in citations} <= {m for m in ("[1]", "[2]", "[3]") if m in text}
    query_id = (last.model_extra or {})["ragbus"]["query_id"]
    async with stack.client(tenant) as ragbus:
        stored = (await ragbus._http.get(f"/v1/queries/{query_id}")).json()
    assert stored["question"] == "And how do I stop it?"
    assert stored["standalone_question"] == "How do I start a child process? And how do I stop it?"
    assert stored["answer"] == text


async def test_request_without_a_user_message_is_refused(stack: RunningStack, tenant: str) -> None:
    async with client(stack, tenant) as oai:
        with pytest.raises(openai.UnprocessableEntityError):
            await oai.chat.completions.create(
                model="ragbus", messages=[{"role": "system", "content": "hi"}]
            )


async def test_conversation_id_stores_the_turn_and_uses_the_stored_history(
    stack: RunningStack, tenant: str
) -> None:
    async with stack.client(tenant) as ragbus:
        conv = (await ragbus._http.post("/v1/conversations", json={})).json()
        async with client(stack, tenant) as oai:
            for question in ("How do I start a child process?", "And how do I stop it?"):
                await oai.chat.completions.create(
                    model="ragbus",
                    messages=[{"role": "user", "content": question}],  # no history sent
                    extra_body={"conversation_id": conv["id"], "top_k": 3},
                )
        turns = (await ragbus._http.get(f"/v1/conversations/{conv['id']}")).json()["messages"]
    assert [m["content"] for m in turns if m["role"] == "user"] == [
        "How do I start a child process?",
        "And how do I stop it?",
    ]
    assert turns[3]["standalone_question"] == (
        "How do I start a child process? And how do I stop it?"
    )
    assert "kill" in turns[3]["content"]
