"""Question embeddings for retrieve_svc: one LRU cache per embedding model.

Each index version names its model, and during a reindex to another model two are
live; a question's vector is cached per model, so entries of two models never mix.

Tried and not kept: embedding the question with the last query's model while the
index version is read from Postgres (and again if the version named another model).
On 2 cores the model's two threads and the event loop then contend, and the model
call slowed by about as much as the read (0.3-0.8 ms) it hid (docs/benchmarks.md).
"""

import numpy as np

from ragbus.embedding import Embedder, Vectors
from ragbus.embedding.query_cache import QueryEmbeddingCache
from schemas.embeddings import QuestionEmbedding


class QuestionVectors:
    """Embeds questions with an index version's model, one LRU cache per model.

    Args:
        embedder: The deployment's model; its cache is :attr:`cache`.
        cache_size: Questions kept per model (0: none).

    Attributes:
        cache: The deployment model's cache (hits and misses are counted there).
    """

    def __init__(self, embedder: Embedder, cache_size: int) -> None:
        self._size = cache_size
        self.cache = QueryEmbeddingCache(embedder, max_entries=cache_size)
        self._caches = {id(embedder): self.cache}

    def embed(self, texts: list[str], embedder: Embedder) -> list[Vectors | None]:
        """One query vector per text with ``embedder``, through its cache (blocking)."""
        cache = self._caches.get(id(embedder))
        if cache is None:
            cache = QueryEmbeddingCache(embedder, max_entries=self._size)
            self._caches[id(embedder)] = cache
        return [cache.embed(text) for text in texts]

    def peek(self, question: str) -> QuestionEmbedding | None:
        """The question's embedding if a search embedded it recently, else ``None``.

        A lookup in the per-model caches; it never runs a model. With two models live
        (a reindex to another model) it may be either's: the consumer compares
        ``model_id`` with its own model.
        """
        for cache in list(self._caches.values()):
            vector = cache.peek(question)
            if vector is not None:
                raw = np.asarray(vector, dtype="<f4").tobytes()
                return QuestionEmbedding.of(cache.model_id, raw)
        return None
