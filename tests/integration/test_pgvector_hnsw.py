"""pgvector's HNSW scan returns as many rows as asked, beyond its default ``ef_search`` of 40."""

import uuid

import numpy as np
import pytest

from ragbus.stores.vectors.base import ChunkRecord, Fusion
from ragbus.stores.vectors.pgvector import PgVectorStore

pytestmark = pytest.mark.integration

DIM = 8


async def test_dense_and_hybrid_get_more_than_40_candidates(pgvector_pool):
    table = f"hnsw_{uuid.uuid4().hex[:8]}"
    store = PgVectorStore(pgvector_pool, table=table)
    await store.open(model_id="test/random-8", dim=DIM)
    document = uuid.uuid4()
    chunks = [
        ChunkRecord(
            chunk_id=uuid.uuid5(document, str(i)),
            tenant_id="t",
            document_id=document,
            version=1,
            chunk_index=i,
            text=f"protein folding sample {i}",
            filename="a.txt",
            title=None,
            page=None,
            heading=None,
            token_count=4,
        )
        for i in range(3000)
    ]
    vectors = np.random.default_rng(5).standard_normal((3000, DIM)).astype(np.float32)
    await store.upsert(chunks, vectors)
    await pgvector_pool.execute(f"ANALYZE {table}")  # so the planner picks the HNSW index
    query = {"tenant_id": "t", "vector": vectors[0], "text": "protein sample"}
    dense = await store.search(**query, top_k=120, mode="dense")
    assert len(dense) == 120  # 40 before ef_search followed the limit
    # Hybrid fuses the dense top 100 (not 40) with the sparse top 100.
    hybrid = await store.search(**query, top_k=200, mode="hybrid", fusion=Fusion(candidates=100))
    # HNSW is approximate and its ef_search follows the limit, so a scan of another
    # depth may swap a neighbour or two; with 40 candidates at most ~43 would match.
    found = {h.chunk.chunk_id for h in dense[:100]} & {h.chunk.chunk_id for h in hybrid}
    assert len(found) >= 95, len(found)
    await store.close()
