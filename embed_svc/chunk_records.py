"""What embed_svc writes to the vector store for a ``chunks.ready`` batch."""

from ragbus.stores.vectors.base import ChunkRecord
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
