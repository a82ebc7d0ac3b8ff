"""The embedding port shared by ingest (token counting), embed and retrieve services."""

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

Vectors = npt.NDArray[np.float32]
"""A matrix of embeddings, shape ``(n, dim)``, float32, each row L2-normalised."""


class Embedder(Protocol):
    """A dense text embedding model behind a small port.

    ``__init__`` is cheap; :meth:`warm_up` loads the model once; the ``embed_*``
    methods are pure functions of their input.

    Attributes:
        model_id: Stable name of the model, stored with every vector
            (``"sentence-transformers/all-MiniLM-L6-v2"``).
        dim: Embedding dimension (384 for all-MiniLM-L6-v2).
        max_tokens: Longest input in tokens, special tokens included, that is embedded
            without truncation (256 for all-MiniLM-L6-v2, its trained maximum).
    """

    model_id: str
    dim: int
    max_tokens: int

    def warm_up(self) -> None:
        """Load the model and tokenizer; safe to call more than once."""
        ...

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's Hugging Face tokenizer, used to count and bound chunk tokens."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed passages; returns ``(len(texts), dim)`` float32, L2-normalised rows."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """Embed one question; returns ``(dim,)`` float32, L2-normalised."""
        ...

    def embed_few(self, texts: Sequence[str]) -> Vectors:
        """Embed a few short passages while a caller waits (an answer's sentences).

        The same vectors as :meth:`embed_documents`, computed for latency rather
        than throughput. Returns ``(len(texts), dim)`` float32, L2-normalised rows.
        """
        ...
