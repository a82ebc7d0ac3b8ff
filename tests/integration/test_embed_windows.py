"""Dense windows end to end below the bus: ingest's chunker, embed_svc, the real model
and Qdrant local mode (Postgres for the document rows)."""

import uuid
from pathlib import Path

import numpy as np
import pytest

from embed_svc.service import EmbedService
from ingest_svc.chunking import ChunkingConfig
from ingest_svc.dense_windows import chunk_and_window
from ingest_svc.parsing import parse_document
from ragbus.embedding import get_embedder
from ragbus.settings import InfraSettings
from ragbus.stores.documents import DocumentRepository
from schemas import ChunkingStrategy, ChunkPayload, ChunksReady, DocumentStatus, chunk_id
from tests.integration.retrieval_world import RecordingPublisher, open_local_store

pytestmark = pytest.mark.integration

TITLE = "Sea otters and kelp forests"
BODY = (
    "Sea otters eat sea urchins, which graze on kelp. Where otters were hunted out, urchin"
    " barrens replaced the forests within a few decades. "
    + " ".join(
        f"Survey {n} counted {n * 7} urchins per square metre at site {n}." for n in range(12)
    )
    + " Otters hold hands while they sleep so that they do not drift apart, and they"
    " keep a favourite stone in a pouch of loose skin under the forearm to crack shells."
)


async def test_a_chunk_is_found_by_its_best_window_and_counted_once(pool, tmp_path, unique_name):
    embedder = get_embedder(InfraSettings())
    store = await open_local_store(tmp_path, f"w_{unique_name}", embedder)  # type: ignore[arg-type]
    assert store.holds_windows
    docs = DocumentRepository(pool)
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    parsed = parse_document(f"{TITLE}\n\n{BODY}\n".encode(), "otters.txt")
    config = ChunkingConfig(max_tokens=embedder.max_tokens)
    chunks, windows = chunk_and_window(
        parsed, embedder.tokenizer, config, ChunkingStrategy.TOKEN_WINDOW, 128
    )
    doc, _ = await docs.create(tenant, uuid.uuid4(), filename="otters.txt")
    assert await docs.set_parsed(
        tenant, doc.id, version=1, chunks_total=len(chunks), title=TITLE, parser="text",
        page_count=None,
    )  # fmt: skip
    payloads = [
        ChunkPayload(
            chunk_id=chunk_id(tenant, doc.id, 1, c.index),
            index=c.index,
            text=c.text,
            token_count=c.token_count,
            dense_windows=list(w.spans),
            window_prefix_chars=w.prefix_chars,
        )
        for c, w in zip(chunks, windows, strict=True)
    ]
    assert sum(len(p.dense_windows) > 1 for p in payloads) >= 1
    event = ChunksReady(
        tenant_id=tenant, document_id=doc.id, version=1, filename="otters.txt", title=TITLE,
        batch_index=0, batch_count=1, total_chunks=len(payloads), chunks=payloads,
    )  # fmt: skip
    embed = EmbedService(docs, store, embedder, RecordingPublisher())  # type: ignore[arg-type]
    (matrix,) = await embed.embed([event])
    texts = [t for p in payloads for t in p.window_texts()]
    assert matrix.shape == (len(texts), embedder.dim) and len(texts) > len(payloads)
    await embed.commit(event, matrix)
    row = await docs.get(tenant, doc.id)
    assert row is not None and row.status == DocumentStatus.INDEXED
    assert await store.count(tenant_id=tenant) == len(payloads)  # chunks, not windows

    # The last window of the longest chunk, asked as a question, finds that chunk with
    # the window's own cosine (about 1), not the whole chunk's (lower).
    longest = max(payloads, key=lambda p: len(p.dense_windows))
    window = longest.window_texts()[-1]
    question = embedder.embed_query(window)
    (best,) = await store.search(tenant_id=tenant, vector=question, top_k=1)
    assert best.chunk.chunk_id == longest.chunk_id
    assert best.score == pytest.approx(1.0, abs=2e-3)
    whole = embedder.embed_documents([longest.text])[0]
    assert float(np.dot(whole, question) / np.linalg.norm(whole)) < best.score - 0.05
    await store.close()


def test_the_corpus_markdown_keeps_every_window_inside_its_chunk() -> None:
    """Spans of a real document are exact substrings: nothing is lost or invented."""
    embedder = get_embedder(InfraSettings())
    path = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "nodejs-api" / "fs.md"
    parsed = parse_document(path.read_bytes()[:60_000], path.name)
    config = ChunkingConfig(max_tokens=embedder.max_tokens)
    chunks, windows = chunk_and_window(
        parsed, embedder.tokenizer, config, ChunkingStrategy.TOKEN_WINDOW, 128
    )
    windowed = [(c, w) for c, w in zip(chunks, windows, strict=True) if w.spans]
    assert len(windowed) > len(chunks) // 2
    for chunk, w in windowed:
        passage = chunk.passage.strip()
        covered = " ".join(chunk.text[a:b] for a, b in w.spans)
        # every word of the passage is in some window
        assert set(passage.split()) <= set(covered.split())
