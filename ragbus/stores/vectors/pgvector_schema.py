"""DDL of the pgvector store: extension, model metadata, chunk table and its indexes.

The chunk table is created at start-up, not by a migration, because its vector
column's type needs the model's dimension. Indexes: HNSW (cosine) for dense search
and ``(tenant_id, document_id)`` for deletes and document filters; the BM25
inverted index (``<table>_terms``) is in :mod:`ragbus.stores.vectors.pgvector_sparse`, the dense
windows (``<table>_windows``) in :mod:`ragbus.stores.vectors.pgvector_windows`.
"""

import asyncpg

from ragbus.errors import PermanentError
from ragbus.stores.vectors.base import mismatch
from ragbus.stores.vectors.pgvector_sparse import terms_ddl
from ragbus.stores.vectors.pgvector_windows import windows_ddl

_LOCK_KEY = 0x7261_6762_7576  # serialises concurrent open() of any vector table
_NO_EXTENSION_ERRORS = (
    asyncpg.exceptions.UndefinedFileError,  # no vector.control: pgvector not installed
    asyncpg.exceptions.InsufficientPrivilegeError,
    asyncpg.exceptions.FeatureNotSupportedError,
)


async def create_table(conn: asyncpg.Connection, t: str, *, model_id: str, dim: int) -> str:
    """Create or verify table ``t`` for ``model_id``/``dim`` inside the caller's transaction.

    A table made before BM25 gets its ``term_count`` column (NULL: terms not yet
    computed, see :func:`~ragbus.stores.vectors.pgvector_sparse.backfill_terms`) and
    its terms table here. The full-text ``tsv`` column (and its GIN index) of the
    earlier ``ts_rank`` sparse search is dropped: nothing reads it any more, and
    dropping a column only marks it dead (no rewrite).

    Returns:
        The installed pgvector version, e.g. ``"0.8.0"``.

    Raises:
        PermanentError: pgvector is not installed or may not be created.
        EmbeddingModelMismatchError: The table was built with another model or dim.
    """
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
    await conn.execute(f"ALTER TABLE {t} DROP COLUMN IF EXISTS tsv")
    for statement in [*terms_ddl(t), *windows_ddl(t, dim)]:
        await conn.execute(statement)
    await conn.execute(
        f"CREATE INDEX IF NOT EXISTS {t}_embedding_hnsw ON {t}"
        " USING hnsw (embedding vector_cosine_ops)"
    )
    await conn.execute(
        f"CREATE INDEX IF NOT EXISTS {t}_tenant_document ON {t} (tenant_id, document_id)"
    )
    version = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    return str(version)
