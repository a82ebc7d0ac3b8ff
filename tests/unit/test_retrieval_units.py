"""Pure retrieval pieces with fakes: RRF fusion, MMR, the query embedding cache."""

import uuid

import numpy as np
import pytest

from ragbus.embedding.fake import FakeEmbedder
from ragbus.embedding.query_cache import QueryEmbeddingCache
from ragbus.embedding.sparse import FakeSparseEncoder
from ragbus.stores.vectors.base import ChunkRecord, ScoredChunk, rrf_fuse
from retrieve_svc.mmr import mmr_select

pytestmark = pytest.mark.unit


def _hit(name: str, score: float = 0.0) -> ScoredChunk:
    record = ChunkRecord(
        uuid.uuid5(uuid.NAMESPACE_URL, name), "t", uuid.uuid4(), 1, 0, name, "f", None, None,
        None, 1,
    )  # fmt: skip
    return ScoredChunk(record, score)


def test_rrf_sums_reciprocal_ranks_with_weights():
    a, b, c = _hit("a"), _hit("b"), _hit("c")
    fused = rrf_fuse([[a, b], [b, c]], [1.0, 1.0], k=60, limit=10)
    assert [h.chunk.text for h in fused] == ["b", "a", "c"]
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 60)
    assert fused[1].score == pytest.approx(1 / 60)
    heavy = rrf_fuse([[a, b], [b, c]], [1.0, 3.0], k=60, limit=2)
    # weight w turns rank r into 1 / ((r + 1) / w + k - 1): c at rank 1 of the heavy list
    assert [h.chunk.text for h in heavy] == ["b", "c"]
    assert heavy[1].score == pytest.approx(1 / (2 / 3 + 59))
    assert [h.chunk.text for h in rrf_fuse([[a], [c]], [1.0, 0.0], k=60, limit=5)] == ["a"]


def test_mmr_with_lambda_one_is_the_relevance_order():
    vectors = np.eye(3, dtype=np.float32)
    assert mmr_select([0.2, 0.9, 0.5], vectors, 3, 1.0) == [1, 2, 0]


def test_mmr_skips_a_duplicate_of_what_it_already_took():
    same = np.array([1.0, 0.0], np.float32)
    other = np.array([0.0, 1.0], np.float32)
    vectors = np.stack([same, same, other])
    assert mmr_select([1.0, 0.99, 0.5], vectors, 2, 0.5) == [0, 2]
    assert mmr_select([1.0, 0.99, 0.5], vectors, 2, 1.0) == [0, 1]
    assert mmr_select([], np.empty((0, 2), np.float32), 3, 0.5) == []
    with pytest.raises(ValueError, match="lambda"):
        mmr_select([1.0], vectors[:1], 1, 1.5)


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__(dim=16)
        self.calls = 0

    def embed_query(self, text: str) -> np.ndarray:
        self.calls += 1
        return super().embed_query(text)


def test_cache_answers_repeats_and_evicts_the_least_recently_used():
    model = CountingEmbedder()
    cache = QueryEmbeddingCache(model, max_entries=2)
    first = cache.embed("a")
    assert np.array_equal(cache.embed("a"), first) and model.calls == 1
    cache.embed("b")
    cache.embed("a")  # a is now the most recent; b goes when c arrives
    cache.embed("c")
    assert len(cache) == 2 and model.calls == 3
    cache.embed("a")
    assert model.calls == 3
    cache.embed("b")
    assert model.calls == 4
    assert (cache.hits, cache.misses) == (3, 4)
    with pytest.raises(ValueError):
        first[0] = 1.0  # cached vectors are shared, so they are read-only


def test_a_cache_of_size_zero_always_runs_the_model():
    model = CountingEmbedder()
    cache = QueryEmbeddingCache(model, max_entries=0)
    cache.embed("a")
    cache.embed("a")
    assert model.calls == 2 and len(cache) == 0


def test_fake_sparse_encoder_counts_words_and_queries_are_binary():
    encoder = FakeSparseEncoder()
    (doc,) = encoder.encode_documents(["Cat cat dog"])
    assert sorted(doc.values) == [1.0, 2.0] and doc.indices == sorted(doc.indices)
    query = encoder.encode_query("cat CAT dog")
    assert query.values == [1.0, 1.0] and set(query.indices) == set(doc.indices)
