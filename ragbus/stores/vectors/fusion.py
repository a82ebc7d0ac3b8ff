"""Ranking chunks, or documents from their chunks, across one or more ranked lists.

Relevance is usually judged per document (a BEIR qrel names a document, a person
asks which page answers them), while the index holds chunks. Fused per chunk, a
document whose two chunks each rank 8th loses to one lucky chunk of another, and a
document's second chunk takes a place another document needed. So with
``group_by="document"`` (:class:`~ragbus.stores.vectors.base.Fusion`):

1. In each ranked list (dense, sparse), a document's score is its chunks' scores
   sorted best first and summed with weights ``1, decay, decay**2, ...``
   (:func:`document_scores`): ``decay=0`` is the best chunk alone (MaxP, Dai &
   Callan 2019), a small decay lets a document with several good chunks win a tie.
   Scores are combined within one list only, so their scales (cosine, BM25) never
   mix.
2. The documents of each list are ranked by that score, and the ranks are fused
   by the weighted reciprocal rank fusion of :func:`~ragbus.stores.vectors.base.rrf_fuse`
   (Cormack et al. 2009 with Qdrant's weights), over documents instead of chunks.
3. Each document is returned as its best passages, at most ``per_document``,
   ordered by their own chunk-level RRF score; every passage of a document carries
   the document's score, so the list stays sorted best first. Only when the limit
   leaves room do the documents' further passages follow (see :func:`_passages`).

Step 2 may instead combine the scores themselves (``method="convex"``,
:func:`convex_documents`): each list's document scores are divided by the list's
best (max normalisation, Lee 1997), a document missing from a list gets that list's
lowest normalised score (its true score is at most that), and the two are mixed as
``alpha * dense + (1 - alpha) * sparse``. Bruch et al. (2023, "An Analysis of
Fusion Functions for Hybrid Retrieval") found such a convex combination better than
RRF once ``alpha`` is tuned on a few queries; on SciFact train it scored 0.738
nDCG@10 cross-validated against RRF's 0.722 (docs/retrieval.md).

A single list (``dense`` or ``sparse`` mode) is grouped the same way, the documents
ranked by the score of step 1 on the mode's own scale.
"""

from collections.abc import Iterable, Sequence

from ragbus.stores.vectors.base import Fusion, ScoredChunk, SearchMode, rrf_fuse


def document_scores(hits: Iterable[ScoredChunk], decay: float) -> dict[int, float]:
    """Each document's score in one ranked list, ``s1 + decay*s2 + decay**2*s3 + ...``.

    Args:
        hits: Hits of one list (any order); ``s1 >= s2 >= ...`` are the scores of a
            document's chunks among them.
        decay: Weight ratio between a document's consecutive chunks, in [0, 1).

    Returns:
        ``{document_id.int: score}``, on the list's own scale (for ``decay=0``, the
        best chunk's score). Documents are keyed by the UUID's integer: a UUID's
        ``__hash__`` is Python code, and hashing them was most of a fusion's time
        (the default fusion of two 100-hit lists: 0.85 ms keyed by UUID, 0.34 ms by
        integer, ``ragbus_tools.bench.fusion_speed``).
    """
    if decay == 0:
        best: dict[int, float] = {}
        for hit in hits:
            key, score = hit.chunk.document_id.int, hit.score
            if key not in best or score > best[key]:
                best[key] = score
        return best
    by_document: dict[int, list[float]] = {}
    for hit in hits:
        by_document.setdefault(hit.chunk.document_id.int, []).append(hit.score)
    out = {}
    for document, scores in by_document.items():
        scores.sort(reverse=True)
        out[document] = sum(score * decay**i for i, score in enumerate(scores))
    return out


def _ranked(scores: dict[int, float], first_seen: dict[int, int]) -> list[int]:
    """Documents by score, best first; ties keep the order they first appeared in.

    Ties matter for lists whose order is not their score's (a re-ranked list, or
    hits given without scores): within one list, a document's place is then that of
    its first chunk.
    """
    return sorted(scores, key=lambda d: (-scores[d], first_seen[d]))


def _first_seen(lists: Sequence[Sequence[ScoredChunk]]) -> dict[int, int]:
    seen: dict[int, int] = {}
    for hits in lists:
        for hit in hits:
            seen.setdefault(hit.chunk.document_id.int, len(seen))
    return seen


def _passages(
    order: Sequence[int],
    scores: dict[int, float],
    chunks: Sequence[ScoredChunk],
    per_document: int,
    limit: int,
) -> list[ScoredChunk]:
    """``chunks`` (best first) grouped under ``order``, each scored with its document's score.

    First every document's best ``per_document`` passages, documents in ``order``;
    then, only if ``limit`` leaves room (a small corpus, or a large ``top_k``), the
    rest of each document's passages in the same order, so no candidate is dropped
    while there is room. Those come after passages of lower-ranked documents and
    still carry their own document's score: the list is sorted by round, then by
    document.
    """
    grouped: dict[int, list[ScoredChunk]] = {}
    for hit in chunks:
        grouped.setdefault(hit.chunk.document_id.int, []).append(hit)
    out: list[ScoredChunk] = []
    for start, stop in ((0, per_document), (per_document, None)):
        for document in order:
            for hit in grouped.get(document, [])[start:stop]:
                if len(out) == limit:
                    return out
                out.append(ScoredChunk(hit.chunk, scores[document], hit.vector))
    return out


def group_documents(
    hits: Sequence[ScoredChunk], *, decay: float, per_document: int, limit: int
) -> list[ScoredChunk]:
    """One ranked list's chunks grouped by document, documents best first.

    Args:
        hits: Ranked hits, best first.
        decay: See :func:`document_scores`.
        per_document: Most passages of one document.
        limit: Most passages returned.

    Returns:
        Each document's best ``per_document`` chunks in their list order, every one
        scored with the document's score (:func:`document_scores`).
    """
    scores = document_scores(hits, decay)
    order = _ranked(scores, _first_seen([hits]))
    return _passages(order, scores, hits, per_document, limit)


def fuse_documents(
    lists: Sequence[Sequence[ScoredChunk]],
    weights: Sequence[float],
    *,
    k: int,
    decay: float,
    per_document: int,
    limit: int,
) -> list[ScoredChunk]:
    """Weighted RRF of the lists' document rankings; each document as its best passages.

    Args:
        lists: Ranked hits, best first (dense, sparse); a chunk may be in several.
        weights: One per list; a weight <= 0 ignores that list.
        k: RRF rank constant; a document at 0-based rank ``r`` of a list with weight
            ``w`` adds ``1 / ((r + 1) / w + k - 1)``, as in :func:`rrf_fuse`.
        decay: See :func:`document_scores`.
        per_document: Most passages of one document.
        limit: Most passages returned.

    Returns:
        Passages grouped by document, documents by fused score; within a document
        by the chunk-level RRF of the same lists. Each passage's score is its
        document's fused score.
    """
    first_seen = _first_seen(lists)
    fused: dict[int, float] = {}
    for hits, weight in zip(lists, weights, strict=True):
        if weight <= 0:
            continue
        scores = document_scores(hits, decay)
        for rank, document in enumerate(_ranked(scores, _first_seen([hits]))):
            fused[document] = fused.get(document, 0.0) + 1.0 / ((rank + 1.0) / weight + k - 1.0)
    order = _ranked(fused, first_seen)
    used = [(hits, w) for hits, w in zip(lists, weights, strict=True) if w > 0]
    passages = rrf_fuse([h for h, _ in used], [w for _, w in used], k=k, limit=sum(map(len, lists)))
    return _passages(order, fused, passages, per_document, limit)


def _convex(maps: Sequence[dict[int, float]], weights: Sequence[float]) -> dict[int, float]:
    """``sum(w_i * n_i(x)) / sum(w_i)`` over non-empty maps; a missing ``x`` at the map's min.

    ``n_i`` divides map ``i``'s scores by their best (all 0 when the best is not
    positive). Every key starts at the sum of the maps' weighted minimums, and each
    map it is in replaces its minimum by its own score: one pass over each map.
    """
    used = [(scores, weight) for scores, weight in zip(maps, weights, strict=True) if scores]
    used = [(scores, weight) for scores, weight in used if weight > 0]
    total = sum(weight for _, weight in used) or 1.0
    parts = []
    for scores, weight in used:
        best = max(scores.values())
        factor = weight / total / best if best > 0 else 0.0
        parts.append((scores, factor, min(scores.values()) * factor))
    base = sum(floor for _, _, floor in parts)
    out: dict[int, float] = {}
    for scores, factor, floor in parts:
        for key, score in scores.items():
            out[key] = out.get(key, base) + (score * factor - floor)
    return out


def convex_documents(
    lists: Sequence[Sequence[ScoredChunk]],
    weights: Sequence[float],
    *,
    decay: float,
    per_document: int,
    limit: int,
) -> list[ScoredChunk]:
    """A convex combination of the lists' max-normalised document scores.

    Args:
        lists: Ranked hits, best first (dense, sparse); an empty list (a question
            of stopwords has no BM25 terms) takes no part.
        weights: One per list: ``[alpha, 1 - alpha]``; they are divided by their sum.
        decay: See :func:`document_scores` (the scores combined per list).
        per_document: Most passages of one document.
        limit: Most passages returned.

    Returns:
        Passages grouped by document, documents by combined score (in [0, 1] when
        the best dense score is positive); within a document by the same
        combination of the chunks' own scores. Each passage carries its
        document's score.
    """
    combined = _convex([document_scores(hits, decay) for hits in lists], weights)
    order = _ranked(combined, _first_seen(lists))
    chunk_maps = [{h.chunk.chunk_id.int: h.score for h in hits} for hits in lists]
    by_chunk = _convex(chunk_maps, weights)
    every = {h.chunk.chunk_id.int: h for hits in lists for h in hits}
    passages = sorted(every.values(), key=lambda h: -by_chunk.get(h.chunk.chunk_id.int, 0.0))
    return _passages(order, combined, passages, per_document, limit)


def depth(mode: SearchMode, fusion: Fusion, top_k: int) -> int:
    """Hits to read from each list for a search returning ``top_k`` passages.

    ``hybrid`` reads ``fusion.candidates`` per list (Qdrant's prefetch limit); a
    single list reads ``top_k``, or, grouped by document, at least
    ``fusion.candidates`` so that documents are ranked from more than the first
    ``top_k`` chunks.
    """
    if mode == "hybrid":
        return fusion.candidates
    if fusion.group_by == "document":
        return max(top_k, fusion.candidates)
    return top_k


def fuse(lists: Sequence[Sequence[ScoredChunk]], fusion: Fusion, limit: int) -> list[ScoredChunk]:
    """``hybrid``'s result from its dense and sparse lists, as ``fusion`` says."""
    weights = [fusion.dense_weight, fusion.sparse_weight]
    if fusion.group_by == "document" and fusion.method == "convex":
        return convex_documents(
            lists,
            [fusion.alpha, 1.0 - fusion.alpha],
            decay=fusion.decay,
            per_document=fusion.per_document,
            limit=limit,
        )
    if fusion.group_by == "document":
        return fuse_documents(
            lists,
            weights,
            k=fusion.k,
            decay=fusion.decay,
            per_document=fusion.per_document,
            limit=limit,
        )
    return rrf_fuse(lists, weights, k=fusion.k, limit=limit)


def grouped(hits: Sequence[ScoredChunk], fusion: Fusion, limit: int) -> list[ScoredChunk]:
    """A single list's result (``dense`` or ``sparse``), as ``fusion`` says."""
    if fusion.group_by == "document":
        return group_documents(
            hits, decay=fusion.decay, per_document=fusion.per_document, limit=limit
        )
    return list(hits[:limit])
