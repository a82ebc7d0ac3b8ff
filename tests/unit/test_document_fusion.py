"""Ranking documents from their chunks: scores, fusion, grouping and the dispatch."""

import uuid

import pytest

from ragbus.stores.vectors.base import ChunkRecord, Fusion, ScoredChunk, rrf_fuse
from ragbus.stores.vectors.fusion import (
    convex_documents,
    depth,
    document_scores,
    fuse,
    fuse_documents,
    group_documents,
    grouped,
)
from retrieve_svc.ranking import passage

pytestmark = pytest.mark.unit

DOCS = {name: uuid.uuid5(uuid.NAMESPACE_URL, name) for name in "ABCDEFGHIJ"}


def hit(name: str, score: float = 0.0) -> ScoredChunk:
    """Chunk ``name`` (``"A2"``: document A's chunk 2) with ``score``."""
    document, index = name[0], int(name[1:] or 0)
    record = ChunkRecord(
        uuid.uuid5(DOCS[document], str(index)),
        "t",
        DOCS[document],
        1,
        index,
        f"Title {document}\n\npassage {name}",
        f"{document}.txt",
        f"Title {document}",
        None,
        None,
        4,
    )
    return ScoredChunk(record, score)


def names(hits: list[ScoredChunk]) -> list[str]:
    return [f"{h.chunk.filename[0]}{h.chunk.chunk_index}" for h in hits]


def test_a_documents_score_is_its_best_chunk_plus_decayed_others():
    hits = [hit("A0", 0.9), hit("B0", 0.8), hit("A1", 0.5), hit("A2", 0.25)]
    assert document_scores(hits, 0.0) == {DOCS["A"].int: 0.9, DOCS["B"].int: 0.8}
    decayed = document_scores(hits, 0.5)
    assert decayed[DOCS["A"].int] == pytest.approx(0.9 + 0.5 * 0.5 + 0.25 * 0.25)


def test_a_document_found_by_both_lists_beats_one_lucky_chunk():
    # B and C are second and third in both lists, but through different chunks; A
    # and D are first in one list only. Per chunk, no chunk of B or C is in both
    # lists, so the lucky chunks win; per document, B and C do.
    dense = [hit("A0"), hit("B0"), hit("C0")]
    sparse = [hit("D0"), hit("B1"), hit("C1")]
    by_chunk = rrf_fuse([dense, sparse], [1.0, 1.0], k=60, limit=10)
    assert names(by_chunk)[:2] == ["A0", "D0"]
    by_document = fuse_documents(
        [dense, sparse], [1.0, 1.0], k=60, decay=0.0, per_document=3, limit=10
    )
    assert names(by_document) == ["B0", "B1", "C0", "C1", "A0", "D0"]
    # RRF over document ranks, 1 / (rank + k - 1) with 1-based ranks
    b, c, a = 2 / 61, 2 / 62, 1 / 60
    assert [h.score for h in by_document] == pytest.approx([b, b, c, c, a, a])


def test_passages_follow_their_chunk_level_fusion_and_are_capped_per_document():
    dense = [hit("A2", 0.9), hit("A0", 0.8), hit("A1", 0.7), hit("B0", 0.6)]
    sparse = [hit("A1", 9.0), hit("A0", 8.0), hit("B0", 7.0)]
    fused = fuse_documents([dense, sparse], [1.0, 1.0], k=60, decay=0.0, per_document=2, limit=10)
    # A0 and A1 are in both lists, A2 in one: A's best passages are A1 and A0; A2
    # comes only after every document's first two, as there is room for it
    assert names(fused) == ["A1", "A0", "B0", "A2"]
    assert fused[3].score == fused[0].score  # its document's score
    assert names(
        fuse_documents([dense, sparse], [1.0, 1.0], k=60, decay=0.0, per_document=2, limit=2)
    ) == ["A1", "A0"]


def test_a_list_weighted_zero_is_left_out():
    dense = [hit("A0"), hit("B0")]
    sparse = [hit("C0"), hit("B0")]
    fused = fuse_documents([dense, sparse], [1.0, 0.0], k=5, decay=0.0, per_document=1, limit=10)
    assert names(fused) == ["A0", "B0"]


def test_one_list_grouped_by_document_keeps_the_modes_scale():
    hits = [hit("A0", 0.9), hit("B0", 0.85), hit("A1", 0.8), hit("C0", 0.7), hit("B1", 0.6)]
    out = group_documents(hits, decay=0.0, per_document=2, limit=4)
    assert names(out) == ["A0", "A1", "B0", "B1"]
    assert [h.score for h in out] == [0.9, 0.9, 0.85, 0.85]
    decayed = group_documents(hits, decay=0.5, per_document=1, limit=3)
    assert names(decayed) == ["A0", "B0", "C0"]  # A: 0.9 + 0.4, B: 0.85 + 0.3
    assert decayed[1].score == pytest.approx(0.85 + 0.5 * 0.6)
    assert names(group_documents(hits, decay=0.9, per_document=1, limit=3)) == ["A0", "B0", "C0"]
    more = [*hits, hit("B2", 0.6)]  # B: 0.85 + 0.54 + 0.486 > A: 0.9 + 0.72
    assert names(group_documents(more, decay=0.9, per_document=1, limit=2)) == ["B0", "A0"]


def test_the_dispatch_keeps_chunk_fusion_exactly_rrf():
    dense = [hit("A0"), hit("B0"), hit("A1")]
    sparse = [hit("A1"), hit("C0")]
    chunk = Fusion(k=5, sparse_weight=0.75)
    assert fuse([dense, sparse], chunk, 10) == rrf_fuse([dense, sparse], [1.0, 0.75], k=5, limit=10)
    assert grouped(dense, chunk, 2) == dense[:2]
    document = Fusion(k=5, sparse_weight=0.75, group_by="document", per_document=1)
    assert names(fuse([dense, sparse], document, 3)) == ["A1", "B0", "C0"]
    assert names(fuse([dense, sparse], document, 10)) == ["A1", "B0", "C0", "A0"]
    assert names(grouped(dense, document, 2)) == ["A0", "B0"]
    assert names(grouped(dense, document, 10)) == ["A0", "B0", "A1"]


def test_depth_reads_deeper_only_to_rank_documents():
    chunk, document = Fusion(candidates=100), Fusion(candidates=100, group_by="document")
    assert depth("dense", chunk, 5) == 5
    assert depth("sparse", document, 5) == 100
    assert depth("dense", document, 120) == 120
    assert depth("hybrid", chunk, 5) == depth("hybrid", document, 5) == 100


def test_a_passage_shows_the_chunk_without_its_context_header():
    shown = passage(hit("A3", 0.5))
    assert shown.text == "passage A3"
    assert shown.title == "Title A"


def test_convex_mixes_max_normalised_document_scores():
    dense = [hit("A0", 0.8), hit("B0", 0.6), hit("A1", 0.5), hit("C0", 0.4)]
    sparse = [hit("B1", 20.0), hit("D0", 10.0), hit("A0", 5.0)]
    out = convex_documents([dense, sparse], [0.7, 0.3], decay=0.0, per_document=3, limit=10)
    # dense / 0.8 and sparse / 20; a document missing from a list gets its lowest
    a = 0.7 * 1.0 + 0.3 * 0.25
    b = 0.7 * 0.75 + 0.3 * 1.0
    c = 0.7 * 0.5 + 0.3 * 0.25
    d = 0.7 * 0.5 + 0.3 * 0.5
    assert [h.chunk.document_id for h in out] == [DOCS[x] for x in "BBAADC"]
    assert [h.score for h in out] == pytest.approx([b, b, a, a, d, c])
    # within a document, by the same mix of the chunks' own scores: B1 (0.7 * 0.5 + 0.3)
    # before B0 (0.7 * 0.75 + 0.3 * 0.25)
    assert names(out)[:4] == ["B1", "B0", "A0", "A1"]


def test_convex_without_sparse_terms_is_the_dense_order():
    dense = [hit("A0", 0.8), hit("B0", 0.6)]
    out = convex_documents([dense, []], [0.7, 0.3], decay=0.0, per_document=1, limit=10)
    assert names(out) == ["A0", "B0"]
    assert [h.score for h in out] == pytest.approx([1.0, 0.75])
    via = fuse([dense, []], Fusion(group_by="document", method="convex", alpha=0.7), 10)
    assert names(via) == names(fuse([dense, []], Fusion(group_by="document", method="convex"), 10))
