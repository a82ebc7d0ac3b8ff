"""Ranking by document in the real stores: Qdrant local mode (its index and Qdrant's own
query API) and pgvector give what the fusion functions compute from chunk lists.

Real SciFact abstracts with the real BM25 encoder, three chunks per document,
seeded random dense vectors.
"""

import dataclasses
import uuid

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient

from ragbus.stores.vectors.base import Fusion, SearchMode
from ragbus.stores.vectors.fusion import convex_documents, fuse_documents, group_documents
from ragbus.stores.vectors.pgvector import PgVectorStore
from ragbus.stores.vectors.qdrant import QdrantVectorStore
from tests.integration import scifact_sample as sample

pytestmark = pytest.mark.integration

DIM = 16
CHUNKS = Fusion(k=5, sparse_weight=0.75, candidates=40)
DOCUMENTS = Fusion(
    k=5, sparse_weight=0.75, candidates=40, group_by="document", decay=0.25, per_document=2
)
CONVEX = dataclasses.replace(DOCUMENTS, method="convex", alpha=0.7)
MODES: tuple[SearchMode, ...] = ("dense", "sparse", "hybrid")


def _ids(hits):
    return [h.chunk.chunk_id for h in hits]


async def _expected(store, query: dict, fusion: Fusion) -> list:
    """What ranking by document must return, from the store's own chunk lists."""
    lists = {
        mode: await store.search(**{**query, "mode": mode, "top_k": 40}, fusion=CHUNKS)
        for mode in ("dense", "sparse")
    }
    if query["mode"] != "hybrid":
        hits = lists[query["mode"]]
        return group_documents(hits, decay=0.25, per_document=2, limit=query["top_k"])
    both = [lists["dense"], lists["sparse"]]
    if fusion.method == "convex":
        return convex_documents(both, [0.7, 0.3], decay=0.25, per_document=2, limit=query["top_k"])
    return fuse_documents(both, [1.0, 0.75], k=5, decay=0.25, per_document=2, limit=query["top_k"])


async def _compare(store, vectors_rng, tenant: str) -> int:
    compared = 0
    for question in sample.questions(8):
        vector = vectors_rng.standard_normal(DIM).astype(np.float32)
        for mode in MODES:
            query = {"tenant_id": tenant, "vector": vector, "text": question, "top_k": 12}
            query["mode"] = mode
            for fusion in (DOCUMENTS, CONVEX):
                ours = await store.search(**query, fusion=fusion)
                expected = await _expected(store, query, fusion)
                assert _ids(ours) == _ids(expected), (mode, question, fusion.method)
                scores = [h.score for h in expected]
                assert [h.score for h in ours] == pytest.approx(scores, rel=1e-5)
                documents = [h.chunk.document_id for h in ours]
                # grouped: a document's passages are consecutive, at most 2 of them
                assert all(documents.count(d) <= 2 for d in documents)
                firsts = list(dict.fromkeys(documents))
                assert documents == sorted(documents, key=firsts.index)
            compared += len(ours) > 0
    return compared


@pytest.fixture
def corpus():
    chunks = sample.chunks("t", sample.abstracts(300), docs=100)
    vectors = np.random.default_rng(3).standard_normal((len(chunks), DIM)).astype(np.float32)
    return chunks, vectors


async def test_qdrant_local_index_and_query_api_rank_documents_alike(tmp_path, corpus):
    chunks, vectors = corpus
    client = AsyncQdrantClient(path=str(tmp_path / "q"))
    store = QdrantVectorStore(client, "docs")
    await store.open(model_id="test/random-16", dim=DIM)
    await store.upsert(chunks, vectors)
    assert await _compare(store, np.random.default_rng(11), "t") == 3 * 8

    # The same searches through Qdrant's query API, as against a Qdrant server: the
    # store reads the dense and sparse lists and fuses them itself. Local mode always
    # has the index, so the test takes it away to reach that path.
    indexed = {
        (mode, f.method): _ids(await store.search(**q, mode=mode, fusion=f))
        for mode, q in _queries(np.random.default_rng(5))
        for f in (DOCUMENTS, CONVEX)
    }
    store._index = None
    for mode, q in _queries(np.random.default_rng(5)):
        for f in (DOCUMENTS, CONVEX):
            assert _ids(await store.search(**q, mode=mode, fusion=f)) == indexed[mode, f.method]
    await store.close()
    await client.close()


def _queries(rng):
    vector = rng.standard_normal(DIM).astype(np.float32)
    question = sample.questions(1)[0]
    for mode in MODES:
        yield mode, {"tenant_id": "t", "vector": vector, "text": question, "top_k": 12}


async def test_pgvector_ranks_documents_from_its_chunk_lists(pgvector_pool, corpus):
    chunks, vectors = corpus
    store = PgVectorStore(pgvector_pool, table=f"docs_{uuid.uuid4().hex[:8]}")
    await store.open(model_id="test/random-16", dim=DIM)
    await store.upsert(chunks, vectors)
    assert await _compare(store, np.random.default_rng(11), "t") == 3 * 8
    await store.close()
