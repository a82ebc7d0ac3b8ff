"""Pick and build the store adapters named by :class:`~ragbus.settings.InfraSettings`.

Composition roots call these from their lifespan; handlers only see the ports.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from qdrant_client import AsyncQdrantClient

from ragbus.errors import PermanentError
from ragbus.settings import InfraSettings
from ragbus.stores.blobs import BlobStore, LocalBlobStore, S3BlobStore
from ragbus.stores.postgres import create_pool
from ragbus.stores.vectors.base import VectorStore
from ragbus.stores.vectors.pgvector import PgVectorStore
from ragbus.stores.vectors.qdrant import QdrantVectorStore

log = logging.getLogger(__name__)

PGVECTOR_TABLE = "chunk_vectors"
"""The deployment's pgvector table (``PgVectorStore``'s default)."""


@dataclass
class _SharedClient:
    client: AsyncQdrantClient
    users: int = 0


_LOCAL_CLIENTS: dict[Path, _SharedClient] = {}
"""Qdrant local-mode clients by storage path: a path may be opened once per process."""


def _local_store(path: Path, collection: str) -> QdrantVectorStore:
    key = path.resolve()
    shared = _LOCAL_CLIENTS.get(key)
    if shared is None:
        key.mkdir(parents=True, exist_ok=True)
        try:
            client = AsyncQdrantClient(path=str(key))
        except RuntimeError as exc:  # the folder is locked by another process
            raise PermanentError(
                f"Qdrant local storage {key} is in use by another process ({exc}). Run every "
                "service in one process, or start a Qdrant server and set QDRANT_URL."
            ) from exc
        shared = _LOCAL_CLIENTS[key] = _SharedClient(client)
    shared.users += 1

    async def release() -> None:
        shared.users -= 1
        if shared.users == 0 and _LOCAL_CLIENTS.get(key) is shared:
            del _LOCAL_CLIENTS[key]
            await shared.client.close()

    return QdrantVectorStore(shared.client, collection, on_close=release)


def default_collection(settings: InfraSettings) -> str:
    """The deployment's shared collection (Qdrant) or table (pgvector) of chunk vectors."""
    return PGVECTOR_TABLE if settings.vector_store == "pgvector" else settings.qdrant_collection


async def open_vector_store(
    settings: InfraSettings, *, pool: asyncpg.Pool | None = None, collection: str | None = None
) -> VectorStore:
    """Build the configured vector store; the caller then calls ``open(model_id=, dim=)``.

    Args:
        settings: ``vector_store`` picks ``qdrant`` (server at ``qdrant_url``, else
            local mode under ``data_dir/qdrant``) or ``pgvector``.
        pool: Pool for pgvector (from :func:`~ragbus.stores.postgres.create_pool`);
            one is created from ``database_url`` and owned by the store when omitted.
        collection: The collection (or pgvector table) of an index version;
            :func:`default_collection` when omitted.

    Raises:
        PermanentError: pgvector without a database, or local Qdrant storage held
            by another process.
        RetryableError: Postgres is unreachable.
    """
    name = collection or default_collection(settings)
    if settings.vector_store == "pgvector":
        if pool is not None:
            return PgVectorStore(pool, table=name)
        if not settings.database_url:
            raise PermanentError("vector_store=pgvector needs DATABASE_URL")
        return PgVectorStore(await create_pool(settings.database_url), table=name, owns_pool=True)
    if settings.qdrant_url:
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        client = AsyncQdrantClient(url=settings.qdrant_url, api_key=api_key)
        return QdrantVectorStore(client, name)
    log.info("using qdrant local mode", extra={"path": str(settings.data_dir / "qdrant")})
    return _local_store(settings.data_dir / "qdrant", name)


async def open_blob_store(settings: InfraSettings) -> BlobStore:
    """Build and open the configured blob store.

    S3 when ``s3_endpoint`` is set (bucket created if missing), else files under
    ``data_dir/blobs``.

    Raises:
        PermanentError: ``s3_endpoint`` is set without both keys, or S3 refused them.
        RetryableError: The S3 server is unreachable.
    """
    if settings.s3_endpoint:
        if settings.s3_access_key is None or settings.s3_secret_key is None:
            raise PermanentError("S3_ENDPOINT is set but S3_ACCESS_KEY/S3_SECRET_KEY are not")
        s3 = S3BlobStore(
            settings.s3_endpoint,
            settings.s3_access_key.get_secret_value(),
            settings.s3_secret_key.get_secret_value(),
            settings.s3_bucket,
            secure=settings.s3_secure,
        )
        await s3.open()
        return s3
    local = LocalBlobStore(settings.data_dir / "blobs")
    await local.open()
    return local
