"""pgvector's BM25 scores exactly as the Qdrant store does, and its terms follow the chunks.

Real SciFact abstracts with the real BM25 encoder and seeded random dense vectors;
the same chunks go into a Qdrant local store and a pgvector store, and every
sparse search must return the same scores in the same order. pgvector's IDF is per
tenant and Qdrant's per collection, so Qdrant holds only the compared tenant while
pgvector also holds another tenant, whose words must not change the scores.
"""

import dataclasses
import uuid

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient

from ragbus.stores.vectors.pgvector import PgVectorStore
from ragbus.stores.vectors.qdrant import QdrantVectorStore
from tests.integration import scifact_sample as sample

pytestmark = pytest.mark.integration

DIM = 16
MODEL = "test/random-16"


@pytest.fixture
async def stores(tmp_path, pgvector_pool):
    client = AsyncQdrantClient(path=str(tmp_path / "q"))
    qdrant = QdrantVectorStore(client, "parity")
    pgvector = PgVectorStore(pgvector_pool, table=f"bm25_{uuid.uuid4().hex[:8]}")
    for store in (qdrant, pgvector):
        await store.open(model_id=MODEL, dim=DIM)
    yield qdrant, pgvector
    for store in (qdrant, pgvector):
        await store.close()
    await client.close()


async def _compare(qdrant, pgvector, questions, documents=None) -> int:
    """Compare every question's sparse top 20; returns how many had hits."""
    found = 0
    for question in questions:
        query = {"tenant_id": "t", "vector": None, "text": question, "top_k": 20}
        ours = await pgvector.search(**query, mode="sparse", document_ids=documents)
        theirs = await qdrant.search(**query, mode="sparse", document_ids=documents)
        sample.assert_same_hits(ours, [(h.chunk.chunk_id, h.score) for h in theirs])
        found += bool(ours)
    return found


async def test_sparse_scores_match_the_qdrant_store_through_writes_and_deletes(stores):
    qdrant, pgvector = stores
    rng = np.random.default_rng(11)
    texts = sample.abstracts(700)
    chunks = sample.chunks("t", texts[:500], docs=50)
    vectors = rng.standard_normal((len(chunks), DIM)).astype(np.float32)
    for store in (qdrant, pgvector):
        await store.upsert(chunks, vectors)
    noise = sample.chunks("other", texts[500:], docs=10)  # pgvector only: per-tenant IDF
    await pgvector.upsert(noise, rng.standard_normal((len(noise), DIM)).astype(np.float32))
    questions = sample.questions(8)
    assert await _compare(qdrant, pgvector, questions) == len(questions)

    picked = [chunks[3].document_id, chunks[4].document_id, uuid.uuid4()]
    assert await _compare(qdrant, pgvector, questions, picked) > 0

    # Deletes change df and N; a re-upsert with other text replaces the terms.
    changed = [
        dataclasses.replace(c, text=t) for c, t in zip(chunks[100:140], texts[600:640], strict=True)
    ]
    for store in (qdrant, pgvector):
        await store.delete_document(tenant_id="t", document_id=chunks[0].document_id)
        await store.delete_chunks(tenant_id="t", chunk_ids=[c.chunk_id for c in chunks[5:9]])
        await store.upsert(changed, vectors[100:140])
        await store.upsert(changed, vectors[100:140])  # idempotent
    assert await _compare(qdrant, pgvector, questions) == len(questions)


async def test_terms_follow_their_chunks_and_older_rows_are_backfilled(stores, pgvector_pool):
    _, pgvector = stores
    table = pgvector._table
    chunks = sample.chunks("t", sample.abstracts(60), docs=6)
    vectors = np.random.default_rng(3).standard_normal((len(chunks), DIM)).astype(np.float32)
    await pgvector.upsert(chunks, vectors)
    terms = f"SELECT count(*) FROM {table}_terms WHERE tenant_id = 't'"
    before = await pgvector_pool.fetchval(terms)
    await pgvector.delete_document(tenant_id="t", document_id=chunks[0].document_id)
    gone = {chunks[0].document_id}
    left = [c for c in chunks if c.document_id not in gone]
    after = await pgvector_pool.fetchval(terms)
    assert after == await pgvector_pool.fetchval(
        f"SELECT sum(term_count) FROM {table} WHERE tenant_id = 't'"
    )
    assert 0 < after < before
    await pgvector.delete_chunks(tenant_id="t", chunk_ids=[c.chunk_id for c in left])
    assert await pgvector_pool.fetchval(terms) == 0

    # A table written before BM25 (rows without terms) gains them when opened.
    await pgvector.upsert(chunks, vectors)
    question = sample.questions(1)[0]
    expected = await pgvector.search(
        tenant_id="t", vector=None, top_k=10, text=question, mode="sparse"
    )
    await pgvector_pool.execute(f"DELETE FROM {table}_terms")
    await pgvector_pool.execute(f"UPDATE {table} SET term_count = NULL")
    await pgvector_pool.execute(f"ALTER TABLE {table} ADD COLUMN tsv tsvector")  # the old one
    reopened = PgVectorStore(pgvector_pool, table=table)
    await reopened.open(model_id=MODEL, dim=DIM)
    again = await reopened.search(
        tenant_id="t", vector=None, top_k=10, text=question, mode="sparse"
    )
    assert [(h.chunk, h.score) for h in again] == [(h.chunk, h.score) for h in expected]
    assert await pgvector_pool.fetchval(terms) == before
    columns = await pgvector_pool.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1", table
    )
    assert "tsv" not in {r["column_name"] for r in columns}
    await reopened.close()
