"""A bounded LRU cache of question embeddings, one per embedding model.

Repeated questions are common (retries, dashboards, evaluation runs); a hit skips
the model call, about 8 ms of CPU for all-MiniLM-L6-v2 on this machine. retrieve_svc
embeds each question to search, and generate_svc's extractive answerer again to score
sentences against it; each keeps one of these.
"""

import threading
from collections import OrderedDict

from ragbus.embedding.base import Embedder, Vectors


class QueryEmbeddingCache:
    """Embeds questions with one model, remembering the ``max_entries`` latest.

    Keys are the exact question text; the model is fixed per cache, so entries of
    different models can never mix. Thread-safe: ``embed`` runs in worker threads.

    Args:
        embedder: The model (the one that embedded the chunks).
        max_entries: Most questions kept; the least recently used goes first.
            0 disables caching.

    Attributes:
        hits: Lookups answered from the cache.
        misses: Lookups that ran the model.
    """

    def __init__(self, embedder: Embedder, *, max_entries: int = 1024) -> None:
        if max_entries < 0:
            raise ValueError(f"max_entries must be >= 0, got {max_entries}")
        self.model_id = embedder.model_id
        self._embedder = embedder
        self._max = max_entries
        self._entries: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def embed(self, question: str) -> Vectors:
        """The question's embedding, ``(dim,)`` float32 (read-only; do not modify it)."""
        with self._lock:
            cached = self._entries.get(question)
            if cached is not None:
                self._entries.move_to_end(question)
                self.hits += 1
                return cached
            self.misses += 1
        vector = self._embedder.embed_query(question)  # outside the lock: the slow part
        self.put(question, vector)
        return vector

    def peek(self, question: str) -> Vectors | None:
        """The question's embedding if it is held, without running the model or
        counting a hit or miss; ``(dim,)`` float32 (read-only)."""
        with self._lock:
            return self._entries.get(question)

    def put(self, question: str, vector: Vectors) -> None:
        """Hold ``vector`` as the question's embedding: one computed elsewhere with the
        same model (retrieve_svc's, carried by ``context.retrieved``).

        Args:
            question: The exact question text.
            vector: ``(dim,)`` float32, L2-normalised; made read-only here.
        """
        vector.setflags(write=False)
        if self._max:
            with self._lock:
                self._entries[question] = vector
                self._entries.move_to_end(question)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
