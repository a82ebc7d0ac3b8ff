"""The hardware reference: the same chunks embedded in one process by fastembed.

It uses :class:`~ragbus.embedding.FastEmbedEmbedder` with the same settings the
services read from the environment (model, export, token limit, threads), so the only
difference from the pipeline is everything around the model call.
"""

import time
from dataclasses import dataclass

from ragbus.embedding import FastEmbedEmbedder
from ragbus.settings import InfraSettings


@dataclass(frozen=True)
class RawRate:
    """Embedding ``chunks`` texts took ``seconds`` of wall clock (model load excluded)."""

    chunks: int
    seconds: float

    @property
    def chunks_per_s(self) -> float | None:
        """Chunks embedded per second, or ``None`` when nothing was embedded."""
        return self.chunks / self.seconds if self.chunks and self.seconds > 0 else None


def load_embedder(settings: InfraSettings | None = None) -> FastEmbedEmbedder:
    """A fresh embedder (not the shared one), loaded and warmed up before timing."""
    embedder = FastEmbedEmbedder(settings or InfraSettings())
    embedder.warm_up()
    return embedder


def raw_rate(embedder: FastEmbedEmbedder, texts: list[str], chunks: int | None = None) -> RawRate:
    """Embed ``texts`` in one call (sorted by length, batches of 64, as embed_svc does).

    Args:
        embedder: A warmed-up embedder.
        texts: The texts the pipeline embedded (chunks, or their dense windows).
        chunks: The chunks ``texts`` belong to; ``len(texts)`` if omitted.
    """
    started = time.perf_counter()
    embedder.embed_documents(texts)
    return RawRate(len(texts) if chunks is None else chunks, time.perf_counter() - started)
