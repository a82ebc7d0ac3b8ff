"""Retrieval techniques through the gateway: refusals are 400s with a typed code.

The gateway and retrieve_svc alone, over a real nats-server, Postgres and the real
model, with no LLM and no reranker configured. The refusal comes from retrieve_svc
over NATS (the ``passages.retrieve`` reply or ``answer.failed``); the gateway only
turns its code into the status.
"""

import functools
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from ragbus.settings import InfraSettings
from retrieve_svc.app import build as build_retrieve
from retrieve_svc.settings import RetrieveSettings
from tests.e2e.stack import RunningStack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

KNOWN = "dense, sparse, hybrid, hybrid_rerank, multi_query, hyde"


@pytest.fixture(scope="module")
async def techniques_stack(nats_url, database_url, tmp_path_factory) -> AsyncIterator[RunningStack]:
    infra = InfraSettings(
        nats_url=nats_url, database_url=database_url, data_dir=tmp_path_factory.mktemp("tech")
    )
    offline = RetrieveSettings(llm_model=None, rerank_model=None, rerank_model_path=None)
    retrieve = functools.partial(build_retrieve, settings=offline)
    async with running_stack(infra, builders=[retrieve], name="ragbus-techniques-test") as stack:
        yield stack


@pytest.fixture
async def http(techniques_stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    headers = await techniques_stack.headers(f"tech-{uuid.uuid4().hex[:8]}", "reader")
    async with httpx.AsyncClient(
        base_url=techniques_stack.url, headers=headers, timeout=60
    ) as client:
        yield client


async def test_an_unknown_technique_is_a_400_naming_the_known_ones(http) -> None:
    reply = await http.post("/v1/retrieve", json={"question": "vitamin D", "technique": "colbert"})

    assert reply.status_code == 400, reply.text
    assert reply.json()["detail"] == (
        f"unknown_technique: unknown technique 'colbert'; known techniques: {KNOWN}"
    )


@pytest.mark.parametrize("technique", ["multi_query", "hyde"])
async def test_an_llm_technique_without_an_llm_is_a_400_on_both_routes(http, technique) -> None:
    body = {"question": "vitamin D and fractures", "technique": technique, "cache": False}
    retrieved = await http.post("/v1/retrieve", json=body)
    answered = await http.post("/v1/query", json=body)

    for reply in (retrieved, answered):
        assert reply.status_code == 400, reply.text
        detail = reply.json()["detail"]
        assert detail.startswith(f"technique_unavailable: technique '{technique}' needs an LLM")
    (stored,) = (await http.get("/v1/queries")).json()["queries"]
    assert (stored["status"], stored["error_code"]) == ("failed", "technique_unavailable")


async def test_conflicts_and_a_missing_reranker_are_400s_and_plain_techniques_work(http) -> None:
    conflict = await http.post(
        "/v1/retrieve", json={"question": "q", "technique": "dense", "mode": "sparse"}
    )
    assert conflict.status_code == 400
    assert conflict.json()["detail"].startswith("technique_conflict: technique 'dense'")
    rerank = await http.post("/v1/retrieve", json={"question": "q", "technique": "hybrid_rerank"})
    assert rerank.status_code == 400
    assert rerank.json()["detail"].startswith("rerank_unavailable: ")
    for technique in ("dense", "sparse", "hybrid"):
        plain = await http.post("/v1/retrieve", json={"question": "q", "technique": technique})
        assert plain.status_code == 200, plain.text
        assert plain.json()["passages"] == []  # a new tenant holds nothing
