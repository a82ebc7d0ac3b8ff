"""Qdrant helpers: error classification, local-mode SQLite tuning and point payloads."""

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import httpx
from qdrant_client import AsyncQdrantClient
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from ragbus.errors import PermanentError, RetryableError
from ragbus.stores.vectors.base import ChunkRecord

log = logging.getLogger(__name__)


@contextlib.contextmanager
def qdrant_errors(action: str) -> Iterator[None]:
    """Translate client errors: unreachable/5xx/429 -> retryable, other 4xx -> permanent.

    Args:
        action: What was attempted, for example ``"upsert"``; named in the message.

    Raises:
        RetryableError: Qdrant is unreachable, overloaded or failed on its side.
        PermanentError: Qdrant refused the request (another 4xx).
    """
    try:
        yield
    except UnexpectedResponse as exc:
        status = exc.status_code or 0
        kind = RetryableError if status >= 500 or status in (0, 429) else PermanentError
        raise kind(f"qdrant {action} failed with HTTP {status}: {exc.reason_phrase}") from exc
    except (ResponseHandlingException, httpx.TransportError, OSError, TimeoutError) as exc:
        raise RetryableError(f"qdrant {action} failed: {type(exc).__name__}: {exc}") from exc


def is_local(client: AsyncQdrantClient) -> bool:
    """Whether the client runs Qdrant in-process (``path=``/``:memory:``)."""
    return type(getattr(client, "_client", None)).__name__ == "AsyncQdrantLocal"


def relax_local_fsync(client: AsyncQdrantClient, collection: str) -> None:
    """Let local mode commit without an fsync per point (WAL, ``synchronous=NORMAL``).

    Local mode stores each point in its own SQLite transaction; with the default
    full sync that costs one fsync per chunk (~20 ms on a VM disk, seconds per
    document). WAL with NORMAL sync survives process crashes and may lose only
    the latest writes on power loss, which re-ingesting repairs. Reaches into
    qdrant-client internals, so any change there just skips the tuning.
    """
    try:
        connection = client._client.collections[collection].storage.storage  # type: ignore[attr-defined]
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
    except (AttributeError, KeyError, sqlite3.Error) as exc:
        log.debug("local qdrant storage left untuned", extra={"error": str(exc)})


def chunk_payload(chunk: ChunkRecord) -> dict[str, Any]:
    """The point payload of ``chunk``; ``tenant_id`` in it is what every filter matches."""
    return {
        "tenant_id": chunk.tenant_id,
        "document_id": str(chunk.document_id),
        "version": chunk.version,
        "chunk_index": chunk.chunk_index,
        "text": chunk.text,
        "filename": chunk.filename,
        "title": chunk.title,
        "page": chunk.page,
        "heading": chunk.heading,
        "token_count": chunk.token_count,
    }


def chunk_from_payload(point_id: str | int | UUID, payload: dict[str, Any]) -> ChunkRecord:
    """Rebuild the chunk stored as point ``point_id`` (the inverse of :func:`chunk_payload`)."""
    return ChunkRecord(
        chunk_id=UUID(str(point_id)),
        tenant_id=payload["tenant_id"],
        document_id=UUID(payload["document_id"]),
        version=payload["version"],
        chunk_index=payload["chunk_index"],
        text=payload["text"],
        filename=payload["filename"],
        title=payload.get("title"),
        page=payload.get("page"),
        heading=payload.get("heading"),
        token_count=payload["token_count"],
    )
