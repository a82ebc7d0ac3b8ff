"""What embed_svc embeds and writes to the vector store for a ``chunks.ready`` batch."""

from ragbus.stores.vectors.base import ChunkRecord, VectorStore
from schemas import ChunksReady


def chunk_records(batch: ChunksReady) -> list[ChunkRecord]:
    """The vector store's records of ``batch``'s chunks, in order."""
    return [
        ChunkRecord(
            chunk_id=c.chunk_id,
            tenant_id=batch.tenant_id,
            document_id=batch.document_id,
            version=batch.version,
            chunk_index=c.index,
            text=c.text,
            filename=batch.filename,
            title=batch.title,
            page=c.page,
            heading=c.heading,
            token_count=c.token_count,
        )
        for c in batch.chunks
    ]


def dense_texts(batch: ChunksReady, store: VectorStore) -> list[str]:
    """The texts to embed for ``batch``, in order: each chunk's dense windows
    (:meth:`~schemas.ChunkPayload.window_texts`) where ``store`` holds windows, else
    each chunk's whole text."""
    if not store.holds_windows:
        return [c.text for c in batch.chunks]
    return [text for c in batch.chunks for text in c.window_texts()]


def window_counts(batch: ChunksReady, store: VectorStore) -> list[int]:
    """Rows of :func:`dense_texts` per chunk: the ``windows`` of ``VectorStore.upsert``."""
    if not store.holds_windows:
        return [1] * len(batch.chunks)
    return [len(c.dense_windows) or 1 for c in batch.chunks]
