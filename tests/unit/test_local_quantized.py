"""The local index's int8 first pass: its bounds hold, and dense search stays exact.

Real onnxruntime (``DynamicQuantizeMatMul``), the real partition and index code; the
vectors are seeded random, some of them clustered around shared directions as
sentence embeddings are, so many cosines lie close together. Each search is compared
with the float32 search of the same partition (the int8 copy taken away).
Against Qdrant's own scoring: tests/integration/test_local_index.py.
"""

import uuid

import numpy as np
import pytest

from ragbus.stores.vectors import local_quantized
from ragbus.stores.vectors.base import ChunkRecord
from ragbus.stores.vectors.local_index import LocalIndex
from ragbus.stores.vectors.local_quantized import GROWTH, MIN_ROWS, QuantizedCopy, QuantizedRows

pytestmark = pytest.mark.unit

DIM = 384
TENANT = "acme"


def vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, DIM)`` float32: half noise, half near one of 8 shared directions."""
    centres = rng.standard_normal((8, DIM))
    near = centres[rng.integers(0, 8, n)] + 0.6 * rng.standard_normal((n, DIM))
    rows = np.where(rng.random((n, 1)) < 0.5, near, rng.standard_normal((n, DIM)))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def chunks(n: int, documents: list[uuid.UUID]) -> list[ChunkRecord]:
    out = []
    for i in range(n):
        doc = documents[i % len(documents)]
        out.append(
            ChunkRecord(uuid.uuid4(), TENANT, doc, 1, i, f"chunk {i}", "a.txt", None, None, None, 4)
        )
    return out


def upsert(index: LocalIndex, rng: np.random.Generator, records: list[ChunkRecord]) -> None:
    """Each chunk gets 1 to 4 dense windows, in batches of 64 as embed_svc writes them."""
    for at in range(0, len(records), 64):
        batch = records[at : at + 64]
        counts = rng.integers(1, 5, len(batch))
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        index.upsert(batch, vectors(rng, int(starts[-1])), [None] * len(batch), starts)


def exact(index: LocalIndex, query: np.ndarray, limit: int, ids=None) -> list:
    """The float32 search: the same partition without its int8 copy."""
    part = index._parts[TENANT]
    copy, part.int8 = part.int8, QuantizedCopy()  # no copy: every row in float32
    try:
        return index.dense_search(TENANT, query, limit, ids)
    finally:
        part.int8 = copy


def assert_same(ours: list, theirs: list) -> None:
    assert [h.chunk.chunk_id for h in ours] == [h.chunk.chunk_id for h in theirs]
    np.testing.assert_allclose([h.score for h in ours], [h.score for h in theirs], rtol=1e-6)


@pytest.fixture(scope="module")
def built() -> tuple[LocalIndex, list[ChunkRecord], list[uuid.UUID]]:
    rng = np.random.default_rng(7)
    documents = [uuid.uuid4() for _ in range(400)]
    records = chunks(2400, documents)  # about 6,000 rows with their windows
    index = LocalIndex(DIM)
    upsert(index, rng, records)
    assert index._parts[TENANT].int8.settle() is not None  # built off the event loop
    return index, records, documents


def test_every_slots_exact_cosine_lies_within_its_bounds(built) -> None:
    index, _, _ = built
    part = index._parts[TENANT]
    copy = part.int8.current()
    assert copy is not None and copy.rows >= MIN_ROWS
    rng = np.random.default_rng(1)
    for query in vectors(rng, 40):
        lower, upper = part.dense_bounds(query)
        truth = part.dense_scores(query)
        assert np.all(lower <= truth) and np.all(truth <= upper)
        assert float(np.max(upper - lower)) < 0.2  # a bound that can still prune


def test_dense_search_equals_the_float32_search(built) -> None:
    index, _, documents = built
    rng = np.random.default_rng(2)
    for i, query in enumerate(vectors(rng, 30)):
        for limit in (1, 10, 110, 5000):
            assert_same(index.dense_search(TENANT, query, limit), exact(index, query, limit))
        ids = documents[i : i + 3]
        assert_same(index.dense_search(TENANT, query, 10, ids), exact(index, query, 10, ids))


def test_rows_written_after_the_copy_deletes_and_compaction_stay_exact(monkeypatch) -> None:
    monkeypatch.setattr(local_quantized, "MIN_ROWS", 1024)  # a copy after compaction too
    rng = np.random.default_rng(3)
    documents = [uuid.uuid4() for _ in range(50)]
    index = LocalIndex(DIM)
    records = chunks(1800, documents)
    upsert(index, rng, records)
    part = index._parts[TENANT]
    for _ in range(3):  # one chunk after a copy is too few rows for a new one
        first = part.int8.settle()
        upsert(index, rng, chunks(1, documents))
        if part.int8.settle() is first:
            break
    assert first is not None and part.size > first.slots  # slots after it: float32
    assert part.size + part.extra_size - first.rows <= GROWTH * first.rows
    index.remove(TENANT, chunk_ids=[r.chunk_id for r in records[::3]])
    upsert(index, rng, records[1:200:3])  # replaced: a new slot each, the old one dead
    queries = vectors(rng, 20)
    for query in queries:
        assert_same(index.dense_search(TENANT, query, 50), exact(index, query, 50))
    upsert(index, rng, chunks(1200, documents))
    assert part.int8.settle() is not first  # grown past GROWTH: quantized again
    index.remove(TENANT, chunk_ids=[r.chunk_id for r in records])  # most slots dead
    assert part.dead == 0  # compacted: the copy was dropped, a new one is built
    assert part.int8.settle() is not None
    for query in queries:
        assert_same(index.dense_search(TENANT, query, 50), exact(index, query, 50))


def test_a_build_started_before_a_compaction_is_dropped() -> None:
    rng = np.random.default_rng(6)
    rows = vectors(rng, MIN_ROWS)
    copy = QuantizedCopy()
    copy.refresh([rows], np.empty(0, np.int64))
    copy.forget()  # the slots were renumbered while it was being built
    assert copy.settle() is None
    copy.refresh([rows], np.empty(0, np.int64))
    assert copy.settle() is not None


def test_a_small_partition_is_scored_in_float32_only() -> None:
    rng = np.random.default_rng(4)
    index = LocalIndex(DIM)
    upsert(index, rng, chunks(100, [uuid.uuid4()]))
    lower, upper = index._parts[TENANT].dense_bounds(vectors(rng, 1)[0])
    assert lower is upper


def test_a_zero_query_scores_every_row_zero() -> None:
    rng = np.random.default_rng(5)
    rows = vectors(rng, 10)
    copy = QuantizedRows([rows[:5], rows[5:]], np.array([0, 0, 1, 3, 4]))
    lower, upper = copy.bounds(np.zeros(DIM, np.float32))
    assert lower.shape == (5,) and not lower.any() and not upper.any()
