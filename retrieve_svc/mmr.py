"""Maximal marginal relevance: pick relevant passages that do not repeat each other.

Carbonell & Goldstein (1998): repeatedly take the candidate maximising
``lambda * relevance - (1 - lambda) * max similarity to those already taken``.
Relevance is the search's own score rescaled to [0, 1] over the candidates (so MMR
keeps the mode's ranking, whether cosine, BM25 or RRF); similarity between
passages is the cosine of their embeddings.
"""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def mmr_select(
    scores: Sequence[float], vectors: npt.NDArray[np.float32], k: int, lam: float
) -> list[int]:
    """Indices of the ``k`` candidates MMR picks, in the order picked.

    Args:
        scores: Relevance of each candidate, any scale, higher is better.
        vectors: ``(len(scores), dim)`` L2-normalised embeddings of the candidates.
        k: How many to pick (fewer if there are fewer candidates).
        lam: 1.0 ranks by relevance alone; 0.0 by novelty alone.

    Raises:
        ValueError: Shapes disagree or ``lam`` is outside [0, 1].
    """
    n = len(scores)
    if vectors.shape[0] != n:
        raise ValueError(f"{n} scores but {vectors.shape[0]} vectors")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lambda must be in [0, 1], got {lam}")
    if n == 0 or k <= 0:
        return []
    rel = np.asarray(scores, dtype=np.float64)
    span = rel.max() - rel.min()
    rel = (rel - rel.min()) / span if span > 0 else np.ones(n)
    sim = vectors.astype(np.float64) @ vectors.astype(np.float64).T
    picked: list[int] = []
    redundancy = np.full(n, -np.inf)  # max similarity to anything picked so far
    available = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        penalty = np.where(np.isfinite(redundancy), redundancy, 0.0)
        value = np.where(available, lam * rel - (1.0 - lam) * penalty, -np.inf)
        best = int(np.argmax(value))
        picked.append(best)
        available[best] = False
        redundancy = np.maximum(redundancy, sim[best])
    return picked
