"""A retrieval test bed: real Postgres, a real vector store, the real BM25 encoder.

Documents are indexed the way embed_svc leaves them (chunks upserted, the version
marked searchable through the repository), without NATS.
"""

import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ragbus.embedding.fake import FakeEmbedder
from ragbus.settings import InfraSettings
from ragbus.stores.documents import DocumentRepository
from ragbus.stores.factory import open_vector_store
from ragbus.stores.vectors.base import ChunkRecord, VectorStore


class RecordingPublisher:
    """A publisher that only records: ``sent`` holds ``(subject, event, msg_id)``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, str | None]] = []

    async def publish(self, event: Any, subject: str, *, msg_id: str | None = None) -> None:
        self.sent.append((subject, event, msg_id))


async def open_local_store(data_dir: Path, name: str, embedder: FakeEmbedder) -> VectorStore:
    """A Qdrant local-mode store under ``data_dir``, opened for ``embedder``'s model.

    ``name`` becomes the collection's name (lower-cased, other characters ``_``).
    """
    collection = re.sub(r"[^a-z0-9_]", "_", name.lower())[:40]
    settings = InfraSettings(
        data_dir=data_dir, vector_store="qdrant", qdrant_url=None, qdrant_collection=collection
    )
    store = await open_vector_store(settings)
    await store.open(model_id=embedder.model_id, dim=embedder.dim)
    return store


async def index_document(
    docs: DocumentRepository,
    vectors: VectorStore,
    embedder: FakeEmbedder,
    tenant: str,
    texts: list[str],
    *,
    metadata: Mapping[str, Any] | None = None,
) -> uuid.UUID:
    """Create, embed and mark searchable a one-version document of ``texts`` chunks."""
    doc_id = uuid.uuid4()
    await docs.create(tenant, doc_id, filename=f"{doc_id}.txt", metadata=metadata)
    parsed = {"chunks_total": len(texts), "title": None, "parser": "text", "page_count": None}
    await docs.set_parsed(tenant, doc_id, version=1, **parsed)
    chunks = [
        ChunkRecord(
            chunk_id=uuid.uuid5(doc_id, str(i)),
            tenant_id=tenant,
            document_id=doc_id,
            version=1,
            chunk_index=i,
            text=text,
            filename=f"{doc_id}.txt",
            title=None,
            page=None,
            heading=None,
            token_count=len(text.split()),
        )
        for i, text in enumerate(texts)
    ]
    await vectors.upsert(chunks, embedder.embed_documents(texts))
    await docs.record_batch(tenant, doc_id, version=1, batch_index=0, chunk_count=len(texts))
    assert await docs.mark_indexed(tenant, doc_id, version=1) is not None
    return doc_id
