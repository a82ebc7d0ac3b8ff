"""The official ``openai`` client against a stack that answers with an LLM.

Real nats-server, Postgres, model and Qdrant local; generate_svc calls the local
fake provider (:mod:`tests.integration.fake_llm`) through litellm, which records
every request, so the test sees what reached the provider: ``max_tokens``,
``temperature``, ``stop`` and ``user`` travel from the chat request on the query
events. The provider cites passages 1 and 3 only, so the citations must keep a gap.
"""

import functools
import uuid
from collections.abc import AsyncIterator, Iterator

import openai
import pytest
from pydantic import SecretStr

from embed_svc.app import build as build_embed
from generate_svc.app import build as build_generate
from generate_svc.settings import GenerateSettings
from ingest_svc.app import build as build_ingest
from ragbus.settings import InfraSettings
from retrieve_svc.app import build as build_retrieve
from tests.e2e.stack import RunningStack, index_texts, running_stack
from tests.integration.fake_llm import FakeLLM, serve_fake_llm

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MODEL = "openai/gpt-4o-mini"
ANSWER = "Start it with spawn [1]. Stop it with kill [3]."
DOCS = {
    "spawn.txt": "The spawn function starts a new child process that runs a command.\n",
    "output.txt": "The output of a child process is read from its stdout stream.\n",
    "kill.txt": "To stop a running child process, call its kill method (SIGTERM).\n",
}
QUESTION = [{"role": "user", "content": "How do I start and stop a child process?"}]


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[str, FakeLLM]]:
    with serve_fake_llm(ANSWER) as served:
        yield served


@pytest.fixture(scope="module")
async def llm_stack(
    nats_url, database_url, provider, tmp_path_factory
) -> AsyncIterator[RunningStack]:
    infra = InfraSettings(
        nats_url=nats_url, database_url=database_url, data_dir=tmp_path_factory.mktemp("oai-llm")
    )
    settings = GenerateSettings(
        # A model of OpenAI's catalog, served by the fake: litellm sends ``user``
        # only to providers that take it, and an unknown openai/ model may not.
        llm_model=MODEL,
        llm_api_base=provider[0],
        llm_api_key=SecretStr("sk-fake"),
        llm_max_retries=0,
        llm_max_tokens=512,
        llm_temperature=0.1,
    )
    generate = functools.partial(build_generate, settings=settings)
    builders = [build_ingest, build_embed, build_retrieve, generate]
    async with running_stack(infra, builders=builders, name="ragbus-oai-llm") as running:
        yield running


@pytest.fixture(scope="module")
async def oai(llm_stack: RunningStack) -> AsyncIterator[openai.AsyncOpenAI]:
    key = await llm_stack.key(f"oai-llm-{uuid.uuid4().hex[:8]}")
    await index_texts(llm_stack.url, key, DOCS)
    async with openai.AsyncOpenAI(
        base_url=f"{llm_stack.url}/v1", api_key=key, max_retries=0, timeout=120
    ) as client:
        yield client


def answer_requests(fake: FakeLLM) -> list[dict]:
    return [r for r in fake.requests if r.get("stream")]


async def test_sampling_options_reach_the_provider(
    oai: openai.AsyncOpenAI, provider: tuple[str, FakeLLM]
) -> None:
    fake = provider[1]
    before = len(answer_requests(fake))
    await oai.chat.completions.create(
        model="ragbus",
        messages=QUESTION,
        max_tokens=64,
        temperature=0.7,
        stop=["END", "STOP"],
        user="end-user-7",
        extra_body={"top_k": 3},
    )
    sent = answer_requests(fake)[before:]
    assert len(sent) == 1
    assert sent[0]["max_tokens"] == 64
    assert sent[0]["temperature"] == 0.7
    assert sent[0]["stop"] == ["END", "STOP"]
    assert sent[0]["user"] == "end-user-7"


async def test_without_options_the_service_settings_apply(
    oai: openai.AsyncOpenAI, provider: tuple[str, FakeLLM]
) -> None:
    fake = provider[1]
    before = len(answer_requests(fake))
    await oai.chat.completions.create(
        model="ragbus", messages=QUESTION, extra_body={"top_k": 3, "cache": False}
    )
    (sent,) = answer_requests(fake)[before:]
    assert (sent["max_tokens"], sent["temperature"]) == (512, 0.1)
    assert "stop" not in sent and "user" not in sent


async def test_a_skipped_passage_number_leaves_a_null_citation(oai: openai.AsyncOpenAI) -> None:
    completion = await oai.chat.completions.create(
        model="ragbus", messages=QUESTION, temperature=0.2, extra_body={"top_k": 3}
    )
    message = completion.choices[0].message
    assert message.content == ANSWER
    citations = (message.model_extra or {})["citations"]
    assert [c and c["n"] for c in citations] == [1, None, 3]
    assert (completion.model_extra or {})["ragbus"]["model"] == MODEL


async def test_the_stream_helper_keeps_the_indexed_citations(oai: openai.AsyncOpenAI) -> None:
    async with oai.chat.completions.stream(
        model="ragbus", messages=QUESTION, max_tokens=100, extra_body={"top_k": 3}
    ) as stream:
        final = await stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == ANSWER
    assert [c and c["n"] for c in (message.model_extra or {})["citations"]] == [1, None, 3]
