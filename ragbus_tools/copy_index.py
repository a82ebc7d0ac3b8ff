"""Copy one tenant's chunks and dense vectors from Qdrant local mode into pgvector.

The chunks and embeddings are the ones the pipeline made, so the pgvector store
can be evaluated (``ragbus eval --tenant``) and benchmarked on exactly the same
index without embedding the corpus again (SciFact takes ~20-60 min to embed here).
pgvector computes its own sparse side (BM25 terms, same encoder) on upsert. Stop any
process holding the Qdrant folder first. Usage::

    DATABASE_URL=postgresql://... python -m ragbus_tools.copy_index QDRANT_DATA_DIR TENANT
"""

import asyncio
import os
import sys
from pathlib import Path

import numpy as np
from qdrant_client import AsyncQdrantClient, models

from ragbus.embedding.resolve import KNOWN_MODELS
from ragbus.settings import InfraSettings
from ragbus.stores.postgres import create_pool
from ragbus.stores.vectors.pgvector import PgVectorStore
from ragbus.stores.vectors.qdrant_query import DENSE
from ragbus.stores.vectors.qdrant_support import chunk_from_payload


async def main(data_dir: Path, tenant: str) -> int:
    """Copy ``tenant``'s points; returns how many were copied."""
    infra = InfraSettings()
    dim = KNOWN_MODELS[infra.embed_model][0]
    client = AsyncQdrantClient(path=str(data_dir / "qdrant"))
    pool = await create_pool(os.environ["DATABASE_URL"])
    store = PgVectorStore(pool)
    await store.open(model_id=infra.embed_model, dim=dim)
    flt = models.Filter(
        must=[models.FieldCondition(key="tenant_id", match=models.MatchValue(value=tenant))]
    )
    copied, offset = 0, None
    while True:
        points, offset = await client.scroll(
            infra.qdrant_collection,
            scroll_filter=flt,
            limit=512,
            offset=offset,
            with_payload=True,
            with_vectors=[DENSE],
        )
        if points:
            chunks = [chunk_from_payload(p.id, p.payload or {}) for p in points]
            matrix = np.array([p.vector[DENSE] for p in points], dtype=np.float32)  # type: ignore[index, call-overload]
            await store.upsert(chunks, matrix)
            copied += len(points)
        if offset is None:
            break
    await client.close()
    await pool.close()
    return copied


if __name__ == "__main__":
    print(asyncio.run(main(Path(sys.argv[1]), sys.argv[2])), "chunks copied")
