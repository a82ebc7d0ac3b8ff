"""Dense windows in pgvector: a chunk's second and later dense vectors, in their own table.

pgvector has no multivector, so the chunk table keeps each chunk's first window in
its ``embedding`` column (where one vector per chunk went before) and
``<table>_windows`` holds the rest, ``(tenant_id, chunk_id, n)`` with ``n >= 1``,
under its own HNSW index and a foreign key that cascades chunk deletes. A dense
search reads the nearest rows of both tables and scores each chunk by its best
window (:func:`best_per_chunk`), which is Qdrant's ``MAX_SIM`` for one query
vector. Why windows: :mod:`ragbus.stores.vectors.windows`.
"""

from collections.abc import Sequence
from uuid import UUID

import asyncpg
import numpy as np
import numpy.typing as npt

from ragbus.stores.vectors.base import ChunkRecord, ScoredChunk


def windows_ddl(t: str, dim: int) -> list[str]:
    """Statements creating (idempotently) the windows table of chunk table ``t``."""
    return [
        f"""CREATE TABLE IF NOT EXISTS {t}_windows (
               tenant_id text NOT NULL, chunk_id uuid NOT NULL, n smallint NOT NULL,
               embedding vector({dim}) NOT NULL,
               PRIMARY KEY (tenant_id, chunk_id, n),
               FOREIGN KEY (tenant_id, chunk_id) REFERENCES {t} (tenant_id, id)
                   ON DELETE CASCADE)""",
        f"CREATE INDEX IF NOT EXISTS {t}_windows_hnsw ON {t}_windows"
        " USING hnsw (embedding vector_cosine_ops)",
    ]


async def write_windows(
    conn: asyncpg.Connection,
    t: str,
    chunks: Sequence[ChunkRecord],
    matrix: npt.NDArray[np.float32],
    starts: npt.NDArray[np.int64],
) -> None:
    """Replace the chunks' windows after the first (rows ``starts[i] + 1 .. starts[i+1]``).

    Runs in the caller's transaction, after the chunk rows are written.
    """
    await conn.execute(
        f"""DELETE FROM {t}_windows w USING unnest($1::text[], $2::uuid[]) AS k(tenant_id, id)
            WHERE w.tenant_id = k.tenant_id AND w.chunk_id = k.id""",
        [c.tenant_id for c in chunks],
        [c.chunk_id for c in chunks],
    )
    rows = [
        (c.tenant_id, c.chunk_id, n, matrix[row])
        for i, c in enumerate(chunks)
        for n, row in enumerate(range(int(starts[i]) + 1, int(starts[i + 1])), start=1)
    ]
    if rows:
        await conn.executemany(
            f"INSERT INTO {t}_windows (tenant_id, chunk_id, n, embedding) VALUES ($1, $2, $3, $4)",
            rows,
        )


async def search_windows(
    conn: asyncpg.Connection,
    t: str,
    names: Sequence[str],
    tenant_id: str,
    query: npt.NDArray[np.float32],
    limit: int,
    ids: list[UUID] | None,
) -> list[asyncpg.Record]:
    """The ``limit`` nearest windows of the tenant, each with its chunk's ``names``
    columns and ``score`` (``1 - cosine distance``)."""
    cols = ", ".join(f"c.{name}" for name in names)
    return await conn.fetch(  # type: ignore[no-any-return]
        f"""SELECT {cols}, 1 - (w.embedding <=> $2) AS score
            FROM {t}_windows w JOIN {t} c ON c.tenant_id = w.tenant_id AND c.id = w.chunk_id
            WHERE w.tenant_id = $1 AND ($4::uuid[] IS NULL OR c.document_id = ANY($4))
            ORDER BY w.embedding <=> $2 LIMIT $3""",
        *(tenant_id, query, limit, ids),
    )


def best_per_chunk(
    first: Sequence[ScoredChunk], more: Sequence[ScoredChunk], limit: int
) -> list[ScoredChunk]:
    """The ``limit`` best chunks of both lists, each scored by its best window.

    A chunk found in both keeps the hit with the higher score (its first window's
    vector either way, read from the chunk table). Best first; ties keep ``first``'s
    order, then ``more``'s.
    """
    best: dict[UUID, ScoredChunk] = {}
    for hit in (*first, *more):
        known = best.get(hit.chunk.chunk_id)
        if known is None or hit.score > known.score:
            best[hit.chunk.chunk_id] = hit
    return sorted(best.values(), key=lambda h: -h.score)[:limit]
