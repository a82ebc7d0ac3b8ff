"""Sparse encoders compared by :mod:`ragbus_tools.bench.retrieval_lab`.

* ``fastembed``: ragbus's encoder (:class:`~ragbus.embedding.sparse.Bm25Encoder`).
* ``bm25s``: `bm25s <https://github.com/xhluca/bm25s>`_'s tokenizer (its regex and
  English stopword list, Snowball stems through ``py_rust_stemmers``) with the
  Lucene BM25 variant's term weight ``tf / (tf + k1 (1 - b + b len/avg_len))``
  (k1 = 1.5, b = 0.75, bm25s's defaults) behind ragbus's sparse port. The index adds
  the IDF, which is Lucene's ``ln(1 + (N - df + 0.5) / (df + 0.5))`` already, so
  this is bm25s's ``method="lucene"`` except that ``avg_len`` is fixed at
  upsert time (a stored vector cannot follow the corpus average).
* :func:`bm25s_native_lists` runs bm25s itself (its own index, exact average
  length) for reference.
"""

import zlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ragbus.embedding.sparse import Bm25Encoder, SparseEncoder, SparseVector


def _stemmer() -> Any:
    from py_rust_stemmers import SnowballStemmer

    stemmer = SnowballStemmer("english")
    return lambda words: stemmer.stem_words(list(words))


class Bm25sEncoder:
    """bm25s's tokens, hashed (crc32, 31 bits) so ids are stable without a vocabulary.

    Args:
        k1: Term saturation (bm25s's default 1.5).
        b: Length normalisation.
        avg_len: Average chunk length in tokens after stopwords.
    """

    name = "bm25s-lucene"

    def __init__(self, *, k1: float = 1.5, b: float = 0.75, avg_len: float = 100.0) -> None:
        self._k1, self._b, self._avg_len = k1, b, avg_len
        self._stem: Any = None

    def warm_up(self) -> None:
        """Build the stemmer."""
        if self._stem is None:
            self._stem = _stemmer()

    def _tokens(self, texts: Sequence[str]) -> list[list[str]]:
        import bm25s

        self.warm_up()
        out = bm25s.tokenize(
            list(texts), stopwords="en", stemmer=self._stem, return_ids=False, show_progress=False
        )
        return [list(tokens) for tokens in out]

    @staticmethod
    def _id(token: str) -> int:
        return zlib.crc32(token.encode()) & 0x7FFFFFFF

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        """Lucene BM25 term weights of each text."""
        out = []
        for tokens in self._tokens(texts):
            counts = Counter(self._id(t) for t in tokens)
            norm = self._k1 * (1 - self._b + self._b * len(tokens) / self._avg_len)
            weights = {term: tf / (tf + norm) for term, tf in counts.items()}
            keys = sorted(weights)
            out.append(SparseVector(keys, [weights[k] for k in keys]))
        return out

    def encode_query(self, text: str) -> SparseVector:
        """1.0 per distinct token."""
        keys = sorted({self._id(t) for t in self._tokens([text])[0]})
        return SparseVector(keys, [1.0] * len(keys))


def sparse_encoder(name: str) -> SparseEncoder:
    """The encoder called ``name``: ``fastembed`` or ``bm25s``.

    ``fastembed:k=0.9,b=0.4,avg_len=100`` is ragbus's encoder with other BM25
    parameters (any of the three, the rest at their defaults).

    Raises:
        ValueError: An unknown name or parameter.
    """
    if name == "fastembed":
        return Bm25Encoder()
    if name.startswith("fastembed:"):
        params: dict[str, float] = {}
        for pair in name.removeprefix("fastembed:").split(","):
            key, _, value = pair.partition("=")
            if key not in ("k", "b", "avg_len"):
                raise ValueError(f"unknown BM25 parameter {key!r} in {name!r}")
            params[key] = float(value)
        return Bm25Encoder(**params)
    if name == "bm25s":
        return Bm25sEncoder()
    raise ValueError(f"unknown sparse encoder {name!r}")


def bm25s_native_lists(
    texts: Sequence[str], queries: Sequence[str], depth: int
) -> list[list[tuple[int, float]]]:
    """bm25s's own Lucene BM25 over ``texts``: per query, ``(text index, score)`` best first."""
    import bm25s
    import numpy as np

    stem = _stemmer()
    retriever = bm25s.BM25(method="lucene")
    retriever.index(bm25s.tokenize(list(texts), stopwords="en", stemmer=stem, show_progress=False))
    tokens = bm25s.tokenize(list(queries), stopwords="en", stemmer=stem, show_progress=False)
    out: list[list[tuple[int, float]]] = []
    for query in bm25s.tokenization.convert_tokenized_to_string_list(tokens):
        if not query:
            out.append([])
            continue
        scores = retriever.get_scores(query)
        top = np.argsort(-scores)[:depth]
        out.append([(int(i), float(scores[i])) for i in top if scores[i] > 0])
    return out
