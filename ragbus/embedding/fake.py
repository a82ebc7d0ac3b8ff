"""A deterministic stand-in :class:`~ragbus.embedding.base.Embedder` for unit tests.

Texts are embedded by feature hashing: each lower-cased word adds a signed one to one of
``dim`` buckets, so texts that share words point the same way. No model, no files.
"""

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

from ragbus.embedding.base import Vectors

_WORD = re.compile(r"\w+")
_BIAS = 0.25  # weight of a bucket every text shares, so an empty text is not a zero vector


@lru_cache(maxsize=65_536)
def _bucket(token: str, dim: int) -> tuple[int, float]:
    # blake2b, not hash(): Python salts str hashes per process
    digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, 1.0 if (value >> 63) else -1.0


def word_tokenizer() -> Tokenizer:
    """A BERT-shaped word tokenizer built in memory: one token per word or punctuation run.

    Every word maps to ``[UNK]``, which is enough to count and bound tokens. Like the
    real tokenizer it adds ``[CLS]`` and ``[SEP]`` unless ``add_special_tokens=False``.
    """
    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )
    return tokenizer


class FakeEmbedder:
    """Hashing embedder with the real one's shapes, dtype and normalisation.

    Attributes:
        model_id: ``fake/hashing-<dim>``.
        dim: Embedding dimension.
        max_tokens: Token limit reported to chunkers (not enforced when embedding).
    """

    def __init__(self, dim: int = 384, max_tokens: int = 256) -> None:
        """Build the tokenizer; cheap.

        Args:
            dim: Embedding dimension, at least 2.
            max_tokens: Value of :attr:`max_tokens`.

        Raises:
            ValueError: ``dim`` is below 2.
        """
        if dim < 2:
            raise ValueError(f"dim must be at least 2, got {dim}")
        self.model_id = f"fake/hashing-{dim}"
        self.dim = dim
        self.max_tokens = max_tokens
        self._tokenizer = word_tokenizer()

    def warm_up(self) -> None:
        """Nothing to load."""

    @property
    def tokenizer(self) -> Tokenizer:
        """A word tokenizer without truncation or padding (see :func:`word_tokenizer`)."""
        return self._tokenizer

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed texts; returns ``(len(texts), dim)`` float32, L2-normalised rows."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        bias_index, _ = _bucket("[BIAS]", self.dim)
        for row, text in enumerate(texts):
            out[row, bias_index] += _BIAS
            for word in _WORD.findall(text.lower()):
                index, sign = _bucket(word, self.dim)
                out[row, index] += sign
        # never zero: the bias bucket holds 0.25 plus a whole number
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_query(self, text: str) -> Vectors:
        """Embed one text; returns ``(dim,)`` float32, L2-normalised."""
        return self.embed_documents([text])[0]

    def embed_few(self, texts: Sequence[str]) -> Vectors:
        """The same as :meth:`embed_documents` (this model has no latency path)."""
        return self.embed_documents(texts)
