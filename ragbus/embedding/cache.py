"""Identical passages embedded once: a bounded cache behind the :class:`Embedder` port.

A 10 MB text file of one repeated word became 9,438 chunks of the same text, each
embedded on its own (about 15 minutes on two cores). :class:`CachingEmbedder`
wraps any embedder: within a call every distinct text goes to the model once, and
across calls a text seen recently is answered from memory. Keys are the model id
and the SHA-256 of the text, so a cache never serves another model's vectors.

The cache is per process (a replica): a bounded LRU of :data:`DEFAULT_ENTRIES`
vectors. A shared tier in Postgres was measured and not built, see
``docs/architecture.md`` ("Embedding cache"): on the project's corpora no chunk
text repeats across documents (chunks start with their document's title), so a
shared tier would answer only re-processed documents and a hostile file's copies
on a second replica, for a second copy of every vector in Postgres.

Questions (:meth:`CachingEmbedder.embed_query`) pass through: retrieve_svc keeps
its own cache of question embeddings.
"""

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from tokenizers import Tokenizer

from ragbus.embedding.base import Embedder, Vectors
from ragbus.metrics import EMBEDDING_CACHE_HITS, EMBEDDING_CACHE_MISSES

DEFAULT_ENTRIES = 16_384
"""Vectors kept per process: 384 float32 (1.5 KiB) each, about 27 MB with keys;
several thousand chunks, more than one pull of every busy tenant's lane."""


class EmbeddingCacheSettings(BaseSettings):
    """Size of the per-process embedding cache (environment prefix ``RAGBUS_EMBED_CACHE_``).

    Attributes:
        entries: Most vectors kept; 0 turns the cache off (duplicates within one
            call are still embedded once).
    """

    model_config = SettingsConfigDict(env_prefix="RAGBUS_EMBED_CACHE_", extra="ignore")

    entries: int = Field(DEFAULT_ENTRIES, ge=0)


class CachingEmbedder:
    """An :class:`Embedder` that embeds each distinct passage text once.

    Thread-safe: services call ``embed_documents`` from worker threads, and in
    ``ragbus up`` every service shares one embedder. The model runs outside the
    lock; two threads missing the same text at once both embed it (same result).

    Args:
        inner: The embedder that computes vectors.
        max_entries: Most vectors kept (least recently used ones go first); 0 keeps
            none.

    Attributes:
        model_id: The inner model's id, part of every key.
        dim: The inner model's dimension.
        max_tokens: The inner model's longest input in tokens.
        hits: Texts answered without the model since creation (from the cache, or
            as a copy of another text of the same call).
        misses: Texts the model embedded since creation.
    """

    def __init__(self, inner: Embedder, *, max_entries: int = DEFAULT_ENTRIES) -> None:
        self.inner = inner
        self.model_id, self.dim, self.max_tokens = inner.model_id, inner.dim, inner.max_tokens
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[bytes, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def tokenizer(self) -> Tokenizer:
        """The inner model's tokenizer."""
        return self.inner.tokenizer

    def warm_up(self) -> None:
        """Load the inner model and take its dimension and token limit, which some
        models only know once loaded."""
        self.inner.warm_up()
        self.dim, self.max_tokens = self.inner.dim, self.inner.max_tokens

    def __len__(self) -> int:
        """Vectors held now."""
        return len(self._entries)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed passages, each distinct text at most once.

        Returns:
            ``(len(texts), dim)`` float32, L2-normalised rows in the order of
            ``texts``, equal to what the inner embedder returns for them.
        """
        return self._cached(texts, self.inner.embed_documents)

    def embed_few(self, texts: Sequence[str]) -> Vectors:
        """As :meth:`embed_documents`, the missing texts through the inner ``embed_few``.

        The two share one cache: they return the same vectors.
        """
        return self._cached(texts, self.inner.embed_few)

    def _cached(self, texts: Sequence[str], compute: Callable[[Sequence[str]], Vectors]) -> Vectors:
        keys = [self._key(text) for text in texts]
        found: dict[bytes, Vectors] = {}
        with self._lock:
            for key in keys:
                vector = self._entries.get(key)
                if vector is not None:
                    self._entries.move_to_end(key)
                    found[key] = vector
        missing = list(dict.fromkeys(key for key in keys if key not in found))
        if missing:
            first = {key: i for i, key in reversed(list(enumerate(keys)))}
            computed = compute([texts[first[key]] for key in missing])
            rows = zip(missing, computed, strict=True)
            fresh = {key: np.array(row, dtype=np.float32) for key, row in rows}
            found.update(fresh)
            self._remember(fresh)
        out = np.empty((len(texts), self.inner.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = found[key]
        self._count(hits=len(texts) - len(missing), misses=len(missing))
        return out

    def embed_query(self, text: str) -> Vectors:
        """Embed one question with the inner model (not cached here, see the module)."""
        return self.inner.embed_query(text)

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.model_id}\0{text}".encode()).digest()

    def _remember(self, fresh: dict[bytes, Vectors]) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            for key, vector in fresh.items():
                self._entries[key] = vector
                self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def _count(self, *, hits: int, misses: int) -> None:
        with self._lock:
            self.hits += hits
            self.misses += misses
        if hits:
            EMBEDDING_CACHE_HITS.labels(self.model_id).inc(hits)
        if misses:
            EMBEDDING_CACHE_MISSES.labels(self.model_id).inc(misses)
