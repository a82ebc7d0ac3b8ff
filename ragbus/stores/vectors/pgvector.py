"""pgvector adapter of the vector store port: one table in the application's Postgres.

The table is created by :meth:`PgVectorStore.open` (its column type needs the
model's dimension, so it is not a migration). ``vector_store_meta`` records the
model and dimension each table was built with.

Sparse search is Postgres full-text search: a generated ``tsv`` column
(``to_tsvector('english', text)``: English Snowball stems, stopwords dropped) with
a GIN index, matched by any of the question's stems (OR, not the AND of
``plainto_tsquery``) and ranked by ``ts_rank`` with length normalisation 1
(rank / (1 + log(length))). It has no IDF, which is why it ranks below BM25.
Hybrid fuses the dense and sparse lists with the same weighted RRF as Qdrant.
"""

import re
from collections.abc import Sequence
from uuid import UUID

import asyncpg
import numpy as np
import numpy.typing as npt

from ragbus.errors import PermanentError
from ragbus.stores.postgres import pg_errors
from ragbus.stores.vectors.base import (
    ChunkRecord,
    Fusion,
    ScoredChunk,
    SearchMode,
    check_batch,
    check_query,
    require_tenant,
    rrf_fuse,
)
from ragbus.stores.vectors.pgvector_schema import create_table

HNSW_MAX_DIM = 2000  # pgvector's limit for HNSW indexes on ``vector``
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")
_COLUMNS = (
    "tenant_id, id, document_id, version, chunk_index, text, filename, title, page, heading,"
    " token_count"
)


class PgVectorStore:
    """Chunk vectors in a pgvector table, cosine distance over an HNSW index.

    Args:
        pool: A pool from :func:`ragbus.stores.postgres.create_pool` (its
            connections register the ``vector`` codec).
        table: Table name (lower-case identifier); another name is another index.
        owns_pool: Close ``pool`` in :meth:`close`.
    """

    def __init__(
        self, pool: asyncpg.Pool, *, table: str = "chunk_vectors", owns_pool: bool = False
    ) -> None:
        if not _IDENT.match(table):
            raise ValueError(f"invalid table name {table!r}")
        self._pool = pool
        self._table = table
        self._owns_pool = owns_pool
        self._dim: int | None = None
        self._iterative_scan = False

    @pg_errors
    async def open(self, *, model_id: str, dim: int) -> None:
        """Install pgvector and create or verify the table for ``model_id``/``dim``.

        Raises:
            PermanentError: pgvector is not installed or may not be created, or
                ``dim`` exceeds the HNSW limit of 2000.
            EmbeddingModelMismatchError: The table was built with another model or dim.
            RetryableError: Postgres is unreachable.
        """
        if not 1 <= dim <= HNSW_MAX_DIM:
            raise PermanentError(f"pgvector HNSW indexes support 1..{HNSW_MAX_DIM} dims, not {dim}")
        async with self._pool.acquire() as conn, conn.transaction():
            version = await create_table(conn, self._table, model_id=model_id, dim=dim)
        # Connections opened before the extension existed lack the vector codec.
        await self._pool.expire_connections()
        self._iterative_scan = tuple(int(p) for p in version.split(".")[:2]) >= (0, 8)
        self._dim = dim

    def _require_open(self) -> int:
        if self._dim is None:
            raise RuntimeError("PgVectorStore.open() must be called first")
        return self._dim

    @pg_errors
    async def upsert(self, chunks: Sequence[ChunkRecord], vectors: npt.NDArray[np.float32]) -> None:
        """Insert or replace rows by ``(tenant_id, chunk_id)`` in one transaction."""
        matrix = check_batch(chunks, vectors, self._require_open())
        if not chunks:
            return
        rows = [
            (
                *(c.tenant_id, c.chunk_id, c.document_id, c.version, c.chunk_index, c.text),
                *(c.filename, c.title, c.page, c.heading, c.token_count, row),
            )
            for c, row in zip(chunks, matrix, strict=True)
        ]
        updates = ", ".join(
            f"{col} = EXCLUDED.{col}" for col in [*_COLUMNS.split(", ")[2:], "embedding"]
        )
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                f"""INSERT INTO {self._table} ({_COLUMNS}, embedding)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                    ON CONFLICT (tenant_id, id) DO UPDATE SET {updates}""",
                rows,
            )

    @pg_errors
    async def search(
        self,
        *,
        tenant_id: str,
        vector: npt.NDArray[np.float32] | None,
        top_k: int,
        document_ids: Sequence[UUID] | None = None,
        text: str | None = None,
        mode: SearchMode = "dense",
        fusion: Fusion | None = None,
        with_vectors: bool = False,
    ) -> list[ScoredChunk]:
        """The tenant's ``top_k`` best chunks for ``mode`` (see the port).

        Scores: ``1 - cosine distance`` for ``dense``, ``ts_rank`` for ``sparse``,
        weighted RRF for ``hybrid``.

        Note:
            Before pgvector 0.8 an HNSW scan filters after fetching ``ef_search``
            (40) candidates, so a small tenant in a large shared table may get fewer
            than ``top_k`` hits; 0.8+ scans iteratively until ``top_k`` match.
        """
        query = check_query(vector, self._require_open(), top_k, mode=mode, text=text)
        tenant_id = require_tenant(tenant_id)
        if document_ids is not None and not document_ids:
            return []
        ids = None if document_ids is None else list(document_ids)
        fusion = fusion or Fusion()
        cols = f"{_COLUMNS}, embedding" if with_vectors else _COLUMNS
        async with self._pool.acquire() as conn, conn.transaction():
            if mode == "sparse":
                return await self._sparse(conn, cols, tenant_id, text or "", top_k, ids)
            if self._iterative_scan:
                await conn.execute("SET LOCAL hnsw.iterative_scan = strict_order")
            if mode == "dense":
                return await self._dense(conn, cols, tenant_id, query, top_k, ids)
            n = max(top_k, fusion.candidates)
            dense = await self._dense(conn, cols, tenant_id, query, n, ids)
            sparse = await self._sparse(conn, cols, tenant_id, text or "", n, ids)
        weights = (fusion.dense_weight, fusion.sparse_weight)
        return rrf_fuse([dense, sparse], weights, k=fusion.k, limit=top_k)

    async def _dense(
        self,
        conn: asyncpg.Connection,
        cols: str,
        tenant_id: str,
        query: npt.NDArray[np.float32],
        limit: int,
        ids: list[UUID] | None,
    ) -> list[ScoredChunk]:
        rows = await conn.fetch(
            f"""SELECT {cols}, 1 - (embedding <=> $2) AS score FROM {self._table}
                WHERE tenant_id = $1 AND ($4::uuid[] IS NULL OR document_id = ANY($4))
                ORDER BY embedding <=> $2 LIMIT $3""",
            *(tenant_id, query, limit, ids),
        )
        return [_hit(r) for r in rows]

    async def _sparse(
        self,
        conn: asyncpg.Connection,
        cols: str,
        tenant_id: str,
        text: str,
        limit: int,
        ids: list[UUID] | None,
    ) -> list[ScoredChunk]:
        # Any stem of the question matches (OR); lexemes are quoted so none is parsed
        # as tsquery syntax; a question of only stopwords matches nothing (NULL).
        rows = await conn.fetch(
            f"""WITH q AS (
                    SELECT to_tsquery('simple', string_agg(quote_literal(l), ' | ')) AS q
                    FROM unnest(tsvector_to_array(to_tsvector('english', $2))) AS l
                    WHERE position(E'\\\\' IN l) = 0)
                SELECT {cols}, ts_rank(tsv, q.q, 1) AS score FROM {self._table}, q
                WHERE tenant_id = $1 AND ($4::uuid[] IS NULL OR document_id = ANY($4))
                  AND tsv @@ q.q
                ORDER BY score DESC LIMIT $3""",
            *(tenant_id, text, limit, ids),
        )
        return [_hit(r) for r in rows]

    @pg_errors
    async def delete_document(
        self, *, tenant_id: str, document_id: UUID, keep_version: int | None = None
    ) -> None:
        """Delete the document's rows (all, or those not of ``keep_version``); idempotent."""
        self._require_open()
        await self._pool.execute(
            f"""DELETE FROM {self._table} WHERE tenant_id = $1 AND document_id = $2
                AND ($3::integer IS NULL OR version <> $3)""",
            *(require_tenant(tenant_id), document_id, keep_version),
        )

    @pg_errors
    async def delete_chunks(self, *, tenant_id: str, chunk_ids: Sequence[UUID]) -> None:
        """Delete these rows of the tenant (by chunk id); idempotent."""
        self._require_open()
        await self._pool.execute(
            f"DELETE FROM {self._table} WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
            require_tenant(tenant_id),
            list(chunk_ids),
        )

    @pg_errors
    async def ping(self) -> None:
        """``SELECT 1`` on the store's pool (raises ``RetryableError`` when down)."""
        self._require_open()
        await self._pool.fetchval("SELECT 1")

    @pg_errors
    async def count(self, *, tenant_id: str, document_id: UUID | None = None) -> int:
        """Rows of the tenant, or of one of its documents."""
        self._require_open()
        return await self._pool.fetchval(
            f"""SELECT count(*)::integer FROM {self._table}
                WHERE tenant_id = $1 AND ($2::uuid IS NULL OR document_id = $2)""",
            require_tenant(tenant_id),
            document_id,
        )

    async def close(self) -> None:
        """Close the pool if this store owns it."""
        self._dim = None
        if self._owns_pool:
            await self._pool.close()


def _hit(row: asyncpg.Record) -> ScoredChunk:
    fields = {k: row[k] for k in _COLUMNS.split(", ") if k != "id"}
    vector = None
    if "embedding" in row:  # pgvector's codec gives numpy or a ``Vector`` by version
        raw = row["embedding"]
        vector = np.asarray(raw.to_numpy() if hasattr(raw, "to_numpy") else raw, np.float32)
    return ScoredChunk(ChunkRecord(**fields, chunk_id=row["id"]), float(row["score"]), vector)
