"""Qdrant local mode's in-memory index answers exactly what Qdrant's own query API does.

Real SciFact abstracts with the real BM25 encoder, seeded random dense vectors,
three tenants, deletes, re-upserts and versions; every search through the store
(the index) is compared with ``query_points`` on the same local client (Qdrant).
"""

import uuid

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient

from ragbus.embedding.sparse import Bm25Encoder
from ragbus.stores.vectors import local_quantized
from ragbus.stores.vectors.base import Fusion, SearchMode
from ragbus.stores.vectors.local_quantized import MIN_ROWS, QuantizedRows
from ragbus.stores.vectors.qdrant import QdrantVectorStore
from ragbus.stores.vectors.qdrant_query import query_arguments, tenant_filter
from tests.integration import scifact_sample as sample

pytestmark = pytest.mark.integration

DIM = 16
MODES: tuple[SearchMode, ...] = ("dense", "sparse", "hybrid")
FUSION = Fusion(k=5, sparse_weight=0.75, candidates=40)


async def _qdrant(
    client: AsyncQdrantClient, store: QdrantVectorStore, collection: str, **query
) -> list[tuple[uuid.UUID, float]]:
    """The same search answered by Qdrant itself (bypassing the store's index)."""
    terms = None if query["mode"] == "dense" else Bm25Encoder().encode_query(query["text"])
    extra = []
    if query.get("document_ids") is not None:
        from qdrant_client import models

        ids = [str(d) for d in query["document_ids"]]
        extra.append(models.FieldCondition(key="document_id", match=models.MatchAny(any=ids)))
    arguments = query_arguments(
        query["mode"],
        dense=query["vector"],
        sparse=terms,
        flt=tenant_filter(query["tenant_id"], *extra),
        top_k=query["top_k"],
        fusion=FUSION,
        multivector=store.holds_windows,
    )
    response = await client.query_points(collection, **arguments)
    return [(uuid.UUID(str(p.id)), p.score) for p in response.points]


def _settle(store: QdrantVectorStore) -> dict[str, bool]:
    """Wait for the int8 copies being built (off the event loop); which tenants have one."""
    copies: dict[str, QuantizedRows | None] = {
        tenant: part.int8.settle()
        for tenant, part in store._index._parts.items()  # type: ignore[union-attr]
    }
    return {tenant: copy is not None for tenant, copy in copies.items()}


async def _compare(client, store, collection, rng, questions, tenants, documents=None) -> int:
    compared = 0
    for question in questions:
        vector = rng.standard_normal(DIM).astype(np.float32)
        for tenant in tenants:
            for mode in MODES:
                query = {
                    "tenant_id": tenant,
                    "vector": vector,
                    "text": question,
                    "top_k": 10,
                    "mode": mode,
                    "document_ids": documents,
                }
                ours = await store.search(**query, fusion=FUSION)
                theirs = await _qdrant(client, store, collection, **query)
                sample.assert_same_hits(ours, theirs, rtol=1e-4)
                compared += bool(ours)
    return compared


@pytest.mark.parametrize("min_rows", [MIN_ROWS, 256], ids=["float32", "int8-first"])
async def test_the_index_answers_as_qdrant_does_through_writes_deletes_and_a_reload(
    tmp_path, monkeypatch, min_rows
):
    # "int8-first": partitions of 256 rows and more are scored from an int8 copy first
    monkeypatch.setattr(local_quantized, "MIN_ROWS", min_rows)
    rng = np.random.default_rng(7)
    texts = sample.abstracts(1500)
    questions = sample.questions(6)
    collection = "parity"
    client = AsyncQdrantClient(path=str(tmp_path / "q"))
    store = QdrantVectorStore(client, collection)
    await store.open(model_id="test/random-16", dim=DIM)
    big = sample.chunks("big", texts[:1200], docs=30)
    small = sample.chunks("small", texts[1200:1400], docs=40)
    other = sample.chunks("other", texts[1400:], docs=10)
    assert store.holds_windows  # a new collection's dense vector is a multivector
    for chunks in (big, small, other):
        for start in range(0, len(chunks), 300):  # several writes: tail merges happen
            part = chunks[start : start + 300]
            # dense windows, 1 to 3 vectors per chunk scored by the best ("big" is
            # compacted below, with them); "other" has one vector per chunk
            windows = rng.integers(1, 4, len(part)) if chunks is not other else np.ones(len(part))
            rows = rng.standard_normal((int(windows.sum()), DIM)).astype(np.float32)
            await store.upsert(part, rows, windows.astype(int).tolist())
    copies = _settle(store)
    assert copies == {"big": min_rows < 2400, "small": min_rows < 400, "other": False}
    assert await _compare(client, store, collection, rng, questions, ["big", "small", "x"]) > 0

    # Deletes (whole documents, single chunks), a re-upsert with new vectors, a new
    # version of a document keeping only it, and a compaction (most of "big" gone).
    await store.delete_document(tenant_id="small", document_id=small[0].document_id)
    await store.delete_chunks(tenant_id="small", chunk_ids=[c.chunk_id for c in small[5:9]])
    again = small[20:60]  # windows replaced: 2 each now
    await store.upsert(again, rng.standard_normal((80, DIM)).astype(np.float32), [2] * 40)
    newer = sample.chunks("other", texts[:30], docs=10, version=2)
    await store.upsert(newer, rng.standard_normal((len(newer), DIM)).astype(np.float32))
    await store.delete_document(tenant_id="other", document_id=newer[0].document_id, keep_version=2)
    for document in sorted({c.document_id for c in big})[:27]:  # 1,080 of 1,200 points
        await store.delete_document(tenant_id="big", document_id=document)
    tenants = ["big", "small", "other"]
    _settle(store)
    assert await _compare(client, store, collection, rng, questions, tenants) > 0
    picked = [small[10].document_id, small[11].document_id, uuid.uuid4()]
    assert await _compare(client, store, collection, rng, questions, ["small"], picked) > 0
    counts = {t: await store.count(tenant_id=t) for t in tenants}
    await store.close()
    await client.close()

    reopened = AsyncQdrantClient(path=str(tmp_path / "q"))
    store = QdrantVectorStore(reopened, collection)
    await store.open(model_id="test/random-16", dim=DIM)
    assert {t: await store.count(tenant_id=t) for t in tenants} == counts
    _settle(store)
    assert await _compare(reopened, store, collection, rng, questions, tenants) > 0
    await store.close()
    await reopened.close()


async def test_stores_on_one_client_share_the_index(tmp_path):
    client = AsyncQdrantClient(path=str(tmp_path / "q"))
    writer, reader = QdrantVectorStore(client, "c"), QdrantVectorStore(client, "c")
    await writer.open(model_id="test/random-16", dim=DIM)
    await reader.open(model_id="test/random-16", dim=DIM)
    chunks = sample.chunks("t", sample.abstracts(5), docs=5)
    vectors = np.eye(5, DIM, dtype=np.float32)
    await writer.upsert(chunks, vectors)
    hits = await reader.search(tenant_id="t", vector=vectors[3], top_k=1, mode="dense")
    assert [h.chunk.chunk_id for h in hits] == [chunks[3].chunk_id]
    await writer.delete_document(tenant_id="t", document_id=chunks[3].document_id)
    hits = await reader.search(tenant_id="t", vector=vectors[3], top_k=5, mode="dense")
    assert chunks[3].chunk_id not in {h.chunk.chunk_id for h in hits}
    await writer.close()
    await reader.close()
    await client.close()


async def test_a_collection_made_before_windows_keeps_one_vector_per_chunk(tmp_path):
    from qdrant_client import models

    from embed_svc.chunk_records import dense_texts, window_counts
    from ragbus.stores.vectors.qdrant_query import DENSE, SPARSE, SPARSE_PARAMS
    from schemas import ChunkPayload, ChunksReady

    client = AsyncQdrantClient(path=str(tmp_path / "q"))
    await client.create_collection(  # as ragbus made it before dense windows
        "old",
        vectors_config={DENSE: models.VectorParams(size=DIM, distance=models.Distance.COSINE)},
        sparse_vectors_config={SPARSE: SPARSE_PARAMS},
        metadata={"ragbus_embed_model": "test/random-16", "ragbus_embed_dim": DIM},
    )
    store = QdrantVectorStore(client, "old")
    await store.open(model_id="test/random-16", dim=DIM)
    assert not store.holds_windows
    chunks = sample.chunks("t", sample.abstracts(2), docs=1)
    rows = np.random.default_rng(3).standard_normal((3, DIM)).astype(np.float32)
    with pytest.raises(ValueError, match="one dense vector per chunk"):
        await store.upsert(chunks, rows, [2, 1])
    await store.upsert(chunks, rows[:2])
    (best,) = await store.search(tenant_id="t", vector=rows[1], top_k=1)
    assert best.chunk == chunks[1]

    # embed_svc then embeds each chunk whole, whatever windows the event carries
    text = "Title\n\nalpha beta gamma"
    payload = ChunkPayload(
        chunk_id=uuid.uuid4(), index=0, text=text, token_count=5,
        dense_windows=[(7, 17), (13, 23)], window_prefix_chars=7,
    )  # fmt: skip
    batch = ChunksReady(
        tenant_id="t", document_id=uuid.uuid4(), version=1, filename="a.txt",
        batch_index=0, batch_count=1, total_chunks=1, chunks=[payload],
    )  # fmt: skip
    assert (dense_texts(batch, store), window_counts(batch, store)) == ([text], [1])
    await store.close()
    await client.close()
