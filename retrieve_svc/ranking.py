"""What happens to the hits after the search: reranking, MMR, and turning them into passages."""

import numpy as np

from ragbus.stores.vectors.base import ScoredChunk
from retrieve_svc.mmr import mmr_select
from retrieve_svc.rerank import Reranker
from schemas import Passage
from schemas.documents import chunk_passage


async def reranked(reranker: Reranker, question: str, hits: list[ScoredChunk]) -> list[ScoredChunk]:
    """The hits in the reranker's order, each scored by its relevance."""
    order = await reranker.rerank(question, [h.chunk.text for h in hits])
    return [ScoredChunk(hits[i].chunk, score, hits[i].vector) for i, score in order]


def diverse(hits: list[ScoredChunk], top_k: int, lam: float) -> list[ScoredChunk]:
    """``top_k`` hits picked by MMR (``lam`` as in :func:`mmr_select`); hits without a
    vector are skipped, and without any the hits are returned as they are."""
    usable = [h for h in hits if h.vector is not None]
    if not usable:
        return hits
    matrix = np.stack([h.vector for h in usable if h.vector is not None])
    order = mmr_select([h.score for h in usable], matrix, top_k, lam)
    return [usable[i] for i in order]


def passage(hit: ScoredChunk) -> Passage:
    """The event model of a hit, its score as it stands after every stage.

    The text is the chunk's passage: the context header it was indexed with (its
    document's title and heading path, :func:`schemas.documents.chunk_context`)
    is already in ``title`` and ``heading``.
    """
    c = hit.chunk
    return Passage(
        chunk_id=c.chunk_id,
        document_id=c.document_id,
        filename=c.filename,
        title=c.title,
        text=chunk_passage(c.text, c.title, c.heading),
        score=hit.score,
        page=c.page,
        heading=c.heading,
        chunk_index=c.chunk_index,
    )
