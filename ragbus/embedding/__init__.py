"""Dense text embeddings behind a small port.

Services depend on :class:`Embedder`; the composition root picks
:func:`get_embedder` (the real model, shared per process) or :class:`FakeEmbedder`
(deterministic, for unit tests), and wraps it in :class:`CachingEmbedder` so that
identical passages are embedded once.
"""

from ragbus.embedding.base import Embedder, Vectors
from ragbus.embedding.cache import CachingEmbedder, EmbeddingCacheSettings
from ragbus.embedding.fake import FakeEmbedder
from ragbus.embedding.fastembed_embedder import FastEmbedEmbedder, get_embedder
from ragbus.embedding.resolve import ResolvedModel, resolve_model

__all__ = [
    "CachingEmbedder",
    "Embedder",
    "EmbeddingCacheSettings",
    "FakeEmbedder",
    "FastEmbedEmbedder",
    "ResolvedModel",
    "Vectors",
    "get_embedder",
    "resolve_model",
]
