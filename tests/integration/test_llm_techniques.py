"""``multi_query`` and ``hyde`` through litellm against a local OpenAI-compatible server.

Real Postgres, Qdrant local mode, the real BM25 encoder and the hashing embedder.
The fake provider (``tests/integration/fake_llm.py``) answers the multi-query prompt
with three rewrites and the HyDE prompt with a drafted passage.
A recording vector store shows exactly what each technique searched.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ragbus.embedding.fake import FakeEmbedder
from ragbus.errors import PermanentError
from ragbus.llm.calls import RetryPolicy
from ragbus.llm.client import LlmClient
from ragbus.stores.documents import DocumentRepository
from retrieve_svc.document_filters import DocumentFilters
from retrieve_svc.query_expansion import LiteLLMQueryExpander
from retrieve_svc.service import RetrieveConfig, RetrieveService
from schemas.queries import RetrievalOptions
from tests.integration.fake_llm import DRAFT, FakeLLM, serve_fake_llm
from tests.integration.retrieval_world import index_document, open_local_store

pytestmark = pytest.mark.integration

QUESTION = "where do penguins live"
TEXTS = {
    "direct": "penguins live in the southern hemisphere",
    "colony": "emperor colonies gather on antarctic sea ice",
    "seabird": "the flightless seabird habitat is rocky coast",
    "other": "volcanoes erupt molten rock",
}


@pytest.fixture(scope="module")
def llm() -> Iterator[tuple[str, FakeLLM]]:
    with serve_fake_llm() as served:
        yield served


class RecordingStore:
    """The real store, remembering the ``(text, vector, mode)`` of every search."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.searches: list[dict[str, Any]] = []

    async def search(self, **kwargs: Any) -> Any:
        self.searches.append(kwargs)
        return await self.inner.search(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def world(pool, tmp_path, llm):
    """A tenant holding :data:`TEXTS`, and services with and without the LLM."""
    embedder = FakeEmbedder(dim=64)
    store = await open_local_store(tmp_path, "tq", embedder)
    docs = DocumentRepository(pool)
    tenant = f"tq-{uuid.uuid4().hex[:8]}"
    ids = {k: await index_document(docs, store, embedder, tenant, [t]) for k, t in TEXTS.items()}
    client = LlmClient(
        ["openai/fake"],
        api_base=llm[0],
        api_key="sk-fake",
        timeout_s=10.0,
        temperature=0.2,
        max_tokens=256,
        policy=RetryPolicy(max_retries=1, backoff_s=0.01, deadline_s=10),
    )
    expander = LiteLLMQueryExpander(client)
    recording = RecordingStore(store)
    service = RetrieveService(
        docs, recording, embedder, DocumentFilters(pool), RetrieveConfig(), expander=expander
    )
    yield tenant, ids, service, recording, embedder
    await store.close()


def rrf(lists: list[list[uuid.UUID]], weights: list[float], k: int) -> dict[uuid.UUID, float]:
    """Weighted RRF written out independently of ``rrf_fuse``."""
    scores: dict[uuid.UUID, float] = {}
    for ranked, w in zip(lists, weights, strict=True):
        for rank, doc in enumerate(ranked):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / ((rank + 1) / w + k - 1)
    return scores


async def test_multi_query_searches_every_rewrite_and_fuses_them_by_rrf(world, llm) -> None:
    tenant, ids, service, recording, _ = world
    sparse = RetrievalOptions(mode="sparse")
    plain, _ = await service.retrieve(tenant, QUESTION, 10, sparse)
    assert [p.document_id for p in plain] == [ids["direct"]]  # BM25: only the shared word

    recording.searches.clear()
    options = RetrievalOptions(technique="multi_query", mode="sparse")
    fused, timings = await service.retrieve(tenant, QUESTION, 10, options)

    request = llm[1].requests[-1]
    assert request["messages"][-1]["content"] == QUESTION
    assert "into 3 different search queries" in request["messages"][0]["content"]
    searched = [s["text"] for s in recording.searches]
    # "penguins" repeats no line of the question exactly, so it is searched as well
    assert searched == [
        QUESTION,
        "emperor colonies on antarctic sea ice",
        "flightless seabird habitat",
        "penguins",
    ]
    assert {s["mode"] for s in recording.searches} == {"sparse"}
    found = [p.document_id for p in fused]
    assert set(found) == {ids["direct"], ids["colony"], ids["seabird"]}  # via the rewrites
    lists = []
    for text in searched:
        hits, _ = await service.retrieve(tenant, text, 10, sparse)
        lists.append([p.document_id for p in hits])
    expected = rrf(lists, [1.0, 1.0, 1.0, 1.0], k=60)
    assert found == sorted(expected, key=lambda d: -expected[d])
    assert [p.score for p in fused] == pytest.approx([expected[d] for d in found])
    assert timings.expand_ms is not None and timings.expand_ms > 0


async def test_hyde_embeds_the_drafted_passage_and_keeps_the_question_for_bm25(world) -> None:
    tenant, ids, service, recording, embedder = world
    options = RetrievalOptions(technique="hyde", mode="dense")
    passages, timings = await service.retrieve(tenant, "which birds brave the cold", 2, options)

    (search,) = recording.searches
    assert search["vector"].tolist() == pytest.approx(embedder.embed_query(DRAFT).tolist())
    assert search["mode"] == "dense" and timings.expand_ms is not None
    assert passages[0].document_id == ids["colony"]  # the draft's words, not the question's
    plain, _ = await service.retrieve(tenant, "which birds brave the cold", 2)
    assert plain[0].document_id != ids["colony"]

    recording.searches.clear()
    await service.retrieve(tenant, QUESTION, 2, RetrievalOptions(technique="hyde"))
    (hybrid,) = recording.searches
    assert hybrid["mode"] == "hybrid" and hybrid["text"] == QUESTION
    assert hybrid["vector"].tolist() == pytest.approx(embedder.embed_query(DRAFT).tolist())


async def test_a_failing_llm_fails_the_retrieval_with_its_code(world) -> None:
    tenant, _, service, _, _ = world
    options = RetrievalOptions(technique="multi_query")
    with pytest.raises(PermanentError) as failed:
        await service.retrieve(tenant, "BROKEN question", 3, options)
    assert failed.value.code == "llm_unavailable"
    assert "after 2 attempt(s)" in str(failed.value)


async def test_an_empty_reply_fails_hyde_and_leaves_multi_query_the_question(world) -> None:
    tenant, ids, service, recording, _ = world
    with pytest.raises(PermanentError) as failed:
        await service.retrieve(tenant, "EMPTY penguins", 3, RetrievalOptions(technique="hyde"))
    assert failed.value.code == "llm_empty_reply" and recording.searches == []
    options = RetrievalOptions(technique="multi_query", mode="sparse")
    passages, _ = await service.retrieve(tenant, "EMPTY penguins", 3, options)
    assert [s["text"] for s in recording.searches] == ["EMPTY penguins"]
    assert [p.document_id for p in passages] == [ids["direct"]]
