"""pgvector adapter of the vector store port: one table in the application's Postgres.

The table is created by :meth:`PgVectorStore.open` (its column type needs the
model's dimension, so it is not a migration). ``vector_store_meta`` records the
model and dimension each table was built with.
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
    ScoredChunk,
    check_batch,
    check_query,
    mismatch,
    require_tenant,
)

HNSW_MAX_DIM = 2000  # pgvector's limit for HNSW indexes on ``vector``
_LOCK_KEY = 0x7261_6762_7576  # serialises concurrent open() of any vector table
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")
_COLUMNS = (
    "tenant_id, id, document_id, version, chunk_index, text, filename, title, page, heading,"
    " token_count"
)
_NO_EXTENSION_ERRORS = (
    asyncpg.exceptions.UndefinedFileError,  # no vector.control: pgvector not installed
    asyncpg.exceptions.InsufficientPrivilegeError,
    asyncpg.exceptions.FeatureNotSupportedError,
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
        t = self._table
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            try:
                await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except _NO_EXTENSION_ERRORS as exc:
                raise PermanentError(
                    f"the pgvector extension is unavailable ({exc}). Install pgvector in the "
                    "Postgres server (e.g. the pgvector/pgvector image), run CREATE EXTENSION "
                    "vector as a superuser, or set RAGBUS_VECTOR_STORE=qdrant."
                ) from exc
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS vector_store_meta (
                       table_name text PRIMARY KEY, model_id text NOT NULL,
                       dim integer NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"""
            )
            stored = await conn.fetchrow(
                "SELECT model_id, dim FROM vector_store_meta WHERE table_name = $1", t
            )
            if stored is None:
                await conn.execute(
                    "INSERT INTO vector_store_meta (table_name, model_id, dim) VALUES ($1, $2, $3)",
                    *(t, model_id, dim),
                )
            elif (stored["model_id"], stored["dim"]) != (model_id, dim):
                raise mismatch(
                    f"pgvector table {t!r}",
                    stored=(stored["model_id"], stored["dim"]),
                    wanted=(model_id, dim),
                )
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {t} (
                       tenant_id text NOT NULL, id uuid NOT NULL, document_id uuid NOT NULL,
                       version integer NOT NULL, chunk_index integer NOT NULL,
                       text text NOT NULL, filename text NOT NULL, title text,
                       page integer, heading text, token_count integer NOT NULL,
                       embedding vector({dim}) NOT NULL,
                       PRIMARY KEY (tenant_id, id))"""
            )
            await conn.execute(
                f"CREATE INDEX IF NOT EXISTS {t}_embedding_hnsw ON {t}"
                " USING hnsw (embedding vector_cosine_ops)"
            )
            await conn.execute(
                f"CREATE INDEX IF NOT EXISTS {t}_tenant_document ON {t} (tenant_id, document_id)"
            )
            version = await conn.fetchval(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            )
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
        vector: npt.NDArray[np.float32],
        top_k: int,
        document_ids: Sequence[UUID] | None = None,
    ) -> list[ScoredChunk]:
        """The tenant's ``top_k`` nearest chunks; score is ``1 - cosine distance``.

        Note:
            Before pgvector 0.8 an HNSW scan filters after fetching ``ef_search``
            (40) candidates, so a small tenant in a large shared table may get fewer
            than ``top_k`` hits; 0.8+ scans iteratively until ``top_k`` match.
        """
        query = check_query(vector, self._require_open(), top_k)
        tenant_id = require_tenant(tenant_id)
        if document_ids is not None and not document_ids:
            return []
        ids = None if document_ids is None else list(document_ids)
        async with self._pool.acquire() as conn, conn.transaction():
            if self._iterative_scan:
                await conn.execute("SET LOCAL hnsw.iterative_scan = strict_order")
            rows = await conn.fetch(
                f"""SELECT {_COLUMNS}, 1 - (embedding <=> $2) AS score FROM {self._table}
                    WHERE tenant_id = $1 AND ($4::uuid[] IS NULL OR document_id = ANY($4))
                    ORDER BY embedding <=> $2 LIMIT $3""",
                *(tenant_id, query, top_k, ids),
            )
        return [
            ScoredChunk(
                ChunkRecord(
                    **{k: r[k] for k in _COLUMNS.split(", ") if k != "id"}, chunk_id=r["id"]
                ),
                float(r["score"]),
            )
            for r in rows
        ]

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
