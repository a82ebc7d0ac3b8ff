"""The official ``openai`` client against ``/v1/chat/completions`` on the whole stack.

Real nats-server, Postgres, model and Qdrant local; the offline extractive answerer.
"""

import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

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
    assert_indexed_by_marker(text, extra["citations"])
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
    assert_indexed_by_marker(text, citations)
    assert (last.choices[0].delta.model_extra or {})["citations"] == citations
    query_id = (last.model_extra or {})["ragbus"]["query_id"]
    async with stack.client(tenant) as ragbus:
        stored = (await ragbus._http.get(f"/v1/queries/{query_id}")).json()
    assert stored["question"] == "And how do I stop it?"
    assert stored["standalone_question"] == "How do I start a child process? And how do I stop it?"
    assert stored["answer"] == text


async def test_request_without_a_user_message_is_refused(stack: RunningStack, tenant: str) -> None:
    async with client(stack, tenant) as oai:
        with pytest.raises(openai.BadRequestError) as refused:
            await oai.chat.completions.create(
                model="ragbus", messages=[{"role": "system", "content": "hi"}]
            )
    assert refused.value.param == "messages"
    assert refused.value.type == "invalid_request_error"


async def test_models_lists_ragbus_and_the_embedding_model(
    stack: RunningStack, tenant: str
) -> None:
    async with client(stack, tenant) as oai:
        ids = [model.id async for model in oai.models.list()]
        one = await oai.models.retrieve("ragbus")
        with pytest.raises(openai.NotFoundError) as missing:
            await oai.models.retrieve("gpt-4o")
    assert ids == ["ragbus", "sentence-transformers/all-MiniLM-L6-v2"]
    assert (one.id, one.object, one.owned_by) == ("ragbus", "model", "ragbus")
    assert missing.value.code == "model_not_found"


@pytest.mark.parametrize("call", ["chat", "models", "embeddings"])
async def test_a_bad_key_is_an_authentication_error_in_openai_shape(
    stack: RunningStack, call: str
) -> None:
    async with openai.AsyncOpenAI(
        base_url=f"{stack.url}/v1", api_key="rbk_000000000000_wrong", max_retries=0
    ) as oai:
        with pytest.raises(openai.AuthenticationError) as refused:
            if call == "chat":
                await oai.chat.completions.create(
                    model="ragbus", messages=[{"role": "user", "content": "hi"}]
                )
            elif call == "models":
                await oai.models.list()
            else:
                await oai.embeddings.create(model="ragbus", input="hi")
    assert refused.value.type == "authentication_error"
    assert refused.value.code == "invalid_credentials"
    assert isinstance(refused.value.body, dict) and refused.value.body["message"]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"logprobs": True}, "logprobs"),
    ],
)
async def test_parameters_ragbus_cannot_honour_are_refused_by_name(
    stack: RunningStack, tenant: str, extra: dict[str, Any], param: str
) -> None:
    async with client(stack, tenant) as oai:
        with pytest.raises(openai.BadRequestError) as refused:
            await oai.chat.completions.create(
                model="ragbus",
                messages=[{"role": "user", "content": "How do I stop a child process?"}],
                extra_body=extra,
            )
    assert refused.value.param == param
    assert refused.value.code == "unsupported_parameter"
    assert param in refused.value.message


async def test_invalid_values_are_bad_requests_naming_the_field(
    stack: RunningStack, tenant: str
) -> None:
    async with client(stack, tenant) as oai:
        with pytest.raises(openai.BadRequestError) as refused:
            await oai.chat.completions.create(
                model="ragbus",
                messages=[{"role": "user", "content": "hi"}],
                temperature=3.5,
            )
    assert (refused.value.param, refused.value.code) == ("temperature", "invalid_value")


def assert_indexed_by_marker(text: str, citations: list[dict[str, Any] | None]) -> None:
    """``citations[n-1]`` is the citation of ``[n]`` for every marker in ``text``;
    the other entries are null, and nothing follows the highest marker."""
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", text)}
    assert markers, text
    assert len(citations) == max(markers)
    for n, citation in enumerate(citations, start=1):
        if n in markers:
            assert citation is not None and citation["n"] == n
        else:
            assert citation is None


async def test_citations_are_indexed_by_their_markers_and_reach_the_stream_helper(
    stack: RunningStack, tenant: str
) -> None:
    question = [{"role": "user", "content": "How do I stop a child process and read its output?"}]
    async with client(stack, tenant) as oai:
        whole = await oai.chat.completions.create(model="ragbus", messages=question)
        async with oai.chat.completions.stream(
            model="ragbus", messages=question, extra_body={"cache": False}
        ) as stream:
            final = await stream.get_final_completion()
    message = whole.choices[0].message
    assert message.content is not None
    assert_indexed_by_marker(message.content, (message.model_extra or {})["citations"])
    assert (whole.model_extra or {})["citations"] == (message.model_extra or {})["citations"]
    streamed = final.choices[0].message
    assert streamed.content == message.content
    assert (streamed.model_extra or {})["citations"] == (message.model_extra or {})["citations"]


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
