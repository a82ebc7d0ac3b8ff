"""The bus's reference: the same documents indexed by a plain loop, with no bus at all.

``ragbus bench ingest --embedder fake`` compares the pipeline with this loop, in
one process and one thread: parse each document with ingest_svc's parser, chunk it
with ingest_svc's chunker and settings, embed the chunks with the same fake
embedder, and upsert them in batches of 64 into a fresh vector store of the same
kind (Qdrant local mode, BM25 included). No NATS, no Postgres, no HTTP, no blob
store: what is left is the work any indexer must do, so ``pipeline / plain loop``
says what the bus and its bookkeeping cost.
"""

import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ragbus.embedding import Embedder
from ragbus.errors import PermanentError
from ragbus.settings import InfraSettings
from ragbus.stores.factory import open_vector_store
from ragbus.stores.vectors.base import ChunkRecord
from ragbus_tools.bench.corpus import BenchDocument
from schemas import chunk_id

BATCH = 64
"""Chunks per embed call and per upsert, as in a ``chunks.ready`` message."""


@dataclass(frozen=True)
class PlainLoopRate:
    """One plain-loop run.

    Attributes:
        chunks: Chunks indexed.
        seconds: Wall clock of the whole loop.
        cpu_seconds: CPU time of this process over the loop (one thread does it all).
        parse_chunk_seconds: Wall clock spent parsing and chunking.
        embed_store_seconds: Wall clock spent embedding and upserting.
    """

    chunks: int
    seconds: float
    cpu_seconds: float
    parse_chunk_seconds: float
    embed_store_seconds: float

    @property
    def chunks_per_s(self) -> float | None:
        """Chunks indexed per second of wall clock."""
        return self.chunks / self.seconds if self.chunks and self.seconds > 0 else None


async def plain_loop(documents: list[BenchDocument], embedder: Embedder) -> PlainLoopRate:
    """Parse, chunk, embed and upsert ``documents`` into a fresh Qdrant local store.

    Args:
        documents: What the pipeline is given.
        embedder: The embedder the pipeline uses (its tokenizer chunks, its vectors
            are stored); warmed up.
    """
    from ingest_svc.chunking import ChunkingConfig, chunk_document  # lazy: heavy imports
    from ingest_svc.parsing import parse_document
    from ingest_svc.settings import IngestSettings

    config = ChunkingConfig(
        max_tokens=embedder.max_tokens, overlap_tokens=IngestSettings().overlap_tokens
    )
    with tempfile.TemporaryDirectory("-plain-loop") as tmp:
        store = await open_vector_store(InfraSettings(data_dir=Path(tmp), vector_store="qdrant"))
        await store.open(model_id=embedder.model_id, dim=embedder.dim)
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            records: list[ChunkRecord] = []
            for doc in documents:
                try:
                    parsed = parse_document(doc.data, doc.filename, doc.content_type)
                except PermanentError:  # rejected by the pipeline too
                    continue
                doc_id = uuid.uuid4()
                for c in chunk_document(parsed, embedder.tokenizer, config):
                    records.append(_record(doc, doc_id, parsed.title, c))
            parsed_at = time.perf_counter()
            for start in range(0, len(records), BATCH):
                batch = records[start : start + BATCH]
                await store.upsert(batch, embedder.embed_documents([r.text for r in batch]))
            ended = time.perf_counter()
            return PlainLoopRate(
                chunks=len(records),
                seconds=ended - wall,
                cpu_seconds=time.process_time() - cpu,
                parse_chunk_seconds=parsed_at - wall,
                embed_store_seconds=ended - parsed_at,
            )
        finally:
            await store.close()


def _record(doc: BenchDocument, doc_id: uuid.UUID, title: str | None, c: object) -> ChunkRecord:
    from ingest_svc.chunking import Chunk

    assert isinstance(c, Chunk)
    return ChunkRecord(
        chunk_id=chunk_id("plain-loop", doc_id, 1, c.index),
        tenant_id="plain-loop",
        document_id=doc_id,
        version=1,
        chunk_index=c.index,
        text=c.text,
        filename=doc.filename,
        title=title,
        page=c.page,
        heading=c.heading,
        token_count=c.token_count,
    )
