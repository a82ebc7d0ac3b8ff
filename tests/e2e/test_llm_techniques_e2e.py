"""``multi_query`` and ``hyde`` through the gateway, with retrieve_svc's LLM configured.

Every service and the gateway on a private nats-server (so this module's
retrieve_svc, the one with an LLM, is the only one answering), real Postgres and
model; documents go through the real ingest pipeline. The LLM is the local fake
of ``tests/integration/fake_llm.py``; generate_svc answers offline.
"""

import functools
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from pydantic import SecretStr

from embed_svc.app import build as build_embed
from generate_svc.app import build as build_generate
from generate_svc.settings import GenerateSettings
from ingest_svc.app import build as build_ingest
from ragbus.settings import InfraSettings
from retrieve_svc.app import build as build_retrieve
from retrieve_svc.settings import RetrieveSettings
from tests.credentials import bearer
from tests.e2e.stack import RunningStack, index_texts, running_stack
from tests.integration.fake_llm import FakeLLM, serve_fake_llm

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

QUESTION = "where do penguins live"
TEXTS = {
    "direct.txt": "Penguins live in the southern hemisphere.",
    "colony.txt": "Emperor colonies gather on antarctic sea ice.",
    "volcano.txt": "Volcanoes erupt molten rock.",
}


@pytest.fixture(scope="module")
def llm() -> Iterator[tuple[str, FakeLLM]]:
    with serve_fake_llm() as served:
        yield served


@pytest.fixture(scope="module")
async def techniques_stack(
    nats_server_factory, database_url, tmp_path_factory, llm
) -> AsyncIterator[RunningStack]:
    nats = nats_server_factory()
    infra = InfraSettings(
        nats_url=nats.url, database_url=database_url, data_dir=tmp_path_factory.mktemp("llm-tq")
    )
    retrieve_settings = RetrieveSettings(
        llm_model="openai/fake", llm_api_base=llm[0], llm_api_key=SecretStr("sk-fake")
    )
    builders = [
        build_ingest,
        build_embed,
        functools.partial(build_retrieve, settings=retrieve_settings),
        functools.partial(build_generate, settings=GenerateSettings(llm_model=None)),
    ]
    try:
        async with running_stack(infra, builders=builders, name="ragbus-llm-techniques-test") as s:
            yield s
    finally:
        nats.stop()


@pytest.fixture(scope="module")
async def http(techniques_stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    tenant = f"llmtq-{uuid.uuid4().hex[:8]}"
    key = await techniques_stack.key(tenant)
    await index_texts(techniques_stack.url, key, TEXTS)
    async with httpx.AsyncClient(
        base_url=techniques_stack.url, headers=bearer(key), timeout=60
    ) as client:
        yield client


async def test_multi_query_finds_what_only_a_rewrite_matches(http, llm) -> None:
    body = {"question": QUESTION, "mode": "sparse", "top_k": 10}
    plain = await http.post("/v1/retrieve", json=body)
    expanded = await http.post("/v1/retrieve", json={**body, "technique": "multi_query"})

    assert plain.status_code == expanded.status_code == 200, expanded.text
    assert [p["filename"] for p in plain.json()["passages"]] == ["direct.txt"]
    found = [p["filename"] for p in expanded.json()["passages"]]
    assert found == ["direct.txt", "colony.txt"]  # the question's and a rewrite's hit
    assert expanded.json()["timings"]["expand_ms"] > 0
    assert llm[1].requests[-1]["messages"][-1]["content"] == QUESTION


async def test_hyde_and_a_query_answered_with_a_technique(http, llm) -> None:
    hyde = await http.post(
        "/v1/retrieve", json={"question": "which birds brave the cold", "technique": "hyde"}
    )
    assert hyde.status_code == 200, hyde.text
    assert hyde.json()["passages"][0]["filename"] == "colony.txt"  # the draft's topic
    assert "a short passage" in llm[1].requests[-1]["messages"][0]["content"]

    answered = await http.post(
        "/v1/query", json={"question": QUESTION, "technique": "multi_query", "cache": False}
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["model"] == "extractive"
