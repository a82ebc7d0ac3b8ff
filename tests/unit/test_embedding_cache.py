"""The caching embedder: each distinct passage reaches the model once, results unchanged."""

from collections.abc import Sequence

import numpy as np
import pytest

from ragbus.embedding import CachingEmbedder, FakeEmbedder, Vectors
from ragbus.metrics import EMBEDDING_CACHE_HITS, EMBEDDING_CACHE_MISSES

pytestmark = pytest.mark.unit


class CountingEmbedder(FakeEmbedder):
    """The fake model, recording every text it is asked to embed."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__(dim=dim)
        self.calls: list[list[str]] = []
        self.few_calls: list[list[str]] = []

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        return super().embed_documents(texts)

    def embed_few(self, texts: Sequence[str]) -> Vectors:
        self.few_calls.append(list(texts))
        return FakeEmbedder.embed_documents(self, texts)


def test_each_distinct_text_is_embedded_once_and_results_match_the_model() -> None:
    inner = CountingEmbedder()
    cache = CachingEmbedder(inner)
    texts = ["same words"] * 50 + ["other words", "same words", "third"]
    vectors = cache.embed_documents(texts)
    assert inner.calls == [["same words", "other words", "third"]]
    np.testing.assert_array_equal(vectors, FakeEmbedder(dim=8).embed_documents(texts))
    again = cache.embed_documents(["third", "new one", "same words"])
    assert inner.calls[1:] == [["new one"]]
    np.testing.assert_array_equal(
        again, FakeEmbedder(dim=8).embed_documents(["third", "new one", "same words"])
    )
    assert (cache.hits, cache.misses, len(cache)) == (50 + 2, 3 + 1, 4)
    assert cache.embed_documents([]).shape == (0, 8)


def test_few_texts_share_the_cache_and_go_to_the_inner_latency_path() -> None:
    inner = CountingEmbedder()
    cache = CachingEmbedder(inner)
    cache.embed_documents(["known text"])
    vectors = cache.embed_few(["known text", "new sentence", "new sentence"])
    assert inner.calls == [["known text"]] and inner.few_calls == [["new sentence"]]
    np.testing.assert_array_equal(
        vectors, FakeEmbedder(dim=8).embed_documents(["known text", "new sentence", "new sentence"])
    )
    cache.embed_documents(["new sentence"])  # embedded by embed_few: a hit here
    assert inner.calls == [["known text"]] and (cache.hits, cache.misses) == (3, 2)


def test_least_recently_used_texts_go_first() -> None:
    inner = CountingEmbedder()
    cache = CachingEmbedder(inner, max_entries=2)
    cache.embed_documents(["a a", "b b"])
    cache.embed_documents(["a a"])  # a is now the most recent
    cache.embed_documents(["c c"])  # evicts b
    cache.embed_documents(["a a", "b b"])
    assert inner.calls == [["a a", "b b"], ["c c"], ["b b"]]
    assert len(cache) == 2


def test_a_cache_of_zero_entries_still_embeds_copies_of_one_call_once() -> None:
    inner = CountingEmbedder()
    cache = CachingEmbedder(inner, max_entries=0)
    cache.embed_documents(["x y"] * 3)
    cache.embed_documents(["x y"])
    assert inner.calls == [["x y"], ["x y"]] and len(cache) == 0


def test_keys_include_the_model_and_questions_pass_through() -> None:
    small, large = CachingEmbedder(CountingEmbedder(dim=8)), CachingEmbedder(FakeEmbedder(dim=16))
    assert small._key("t") != large._key("t")
    assert (small.model_id, small.dim, small.max_tokens) == ("fake/hashing-8", 8, 256)
    np.testing.assert_array_equal(small.embed_query("why"), FakeEmbedder(dim=8).embed_query("why"))
    assert (len(small), small.hits, small.misses) == (0, 0, 0)


def test_hits_and_misses_are_counted_in_metrics() -> None:
    cache = CachingEmbedder(CountingEmbedder(dim=8))
    hits = EMBEDDING_CACHE_HITS.labels(cache.model_id)._value.get()
    misses = EMBEDDING_CACHE_MISSES.labels(cache.model_id)._value.get()
    cache.embed_documents(["one text"] * 10)
    assert EMBEDDING_CACHE_HITS.labels(cache.model_id)._value.get() == hits + 9
    assert EMBEDDING_CACHE_MISSES.labels(cache.model_id)._value.get() == misses + 1
