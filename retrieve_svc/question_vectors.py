"""Question embeddings for retrieve_svc: a cache per model, and the model guessed ahead.

A query first reads the tenant's active index version from Postgres (it names the
model), then embeds the question with that model. The two are independent in all
but the model, and the model almost never changes (only a reindex to another model
switches it), so :meth:`QuestionVectors.embed_for` starts embedding with the model
of the last query while the version is read, and embeds again only if the version
names another model. The read (about 0.5 to 1 ms through asyncpg) then hides behind
the model call (about 5 ms for all-MiniLM-L6-v2) instead of adding to it.
"""

import asyncio
from collections.abc import Awaitable

import numpy as np

from ragbus.embedding import Embedder, Vectors
from ragbus.embedding.query_cache import QueryEmbeddingCache
from ragbus.index_targets import IndexTarget
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
        self._last = embedder

    async def embed_for(
        self, target: Awaitable[IndexTarget], texts: list[str]
    ) -> tuple[IndexTarget, list[Vectors | None]]:
        """``target`` awaited, and one ``(dim,)`` float32 query vector per text with
        its model.

        The model of the previous call starts on ``texts`` in a worker thread while
        ``target`` is awaited; its vectors are kept when ``target`` has that same
        model, else the texts are embedded again with ``target``'s.

        Raises:
            Whatever awaiting ``target`` raises; the guessed embedding is then
            awaited first, so no thread is left running unobserved.
        """
        guess = self._last
        early = asyncio.ensure_future(asyncio.to_thread(self.embed, texts, guess))
        try:
            resolved = await target
        except BaseException:
            await asyncio.gather(early, return_exceptions=True)
            raise
        vectors = await early
        if resolved.embedder is not guess:
            vectors = await asyncio.to_thread(self.embed, texts, resolved.embedder)
        self._last = resolved.embedder
        return resolved, vectors

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
