"""The documents a benchmark uploads, and the chunks ingest_svc makes of them.

The raw-rate reference must embed exactly what the pipeline embeds, so the chunks
are made here by ingest_svc's own parser and chunker with the settings a fresh
tenant gets (``token_window``, ``RAGBUS_INGEST_OVERLAP_TOKENS``).
"""

import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragbus.embedding import Embedder
from ragbus_tools.beir import is_beir_corpus, read_corpus
from ragbus_tools.client import collect_files


@dataclass(frozen=True)
class BenchDocument:
    """One upload: a file name, its bytes and the metadata sent with it."""

    filename: str
    data: bytes
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def content_type(self) -> str | None:
        """The media type the client sends, guessed from the name as ``RagbusClient`` does."""
        return mimetypes.guess_type(self.filename)[0]


def load_documents(path: Path, *, limit: int | None = None) -> list[BenchDocument]:
    """A BEIR ``corpus.jsonl`` (one ``<_id>.txt`` per line) or every supported file of a folder.

    Args:
        path: The corpus file, a folder (walked recursively) or one file.
        limit: Keep only the first ``limit`` documents (file order, or sorted paths).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        BeirFormatError: a corpus line is malformed.
    """
    if is_beir_corpus(path):
        return [
            BenchDocument(d.filename, d.content.encode(), d.metadata)
            for d in read_corpus(path, limit=limit)
        ]
    files = collect_files([path])[:limit]
    return [BenchDocument(f.name, f.read_bytes()) for f in files]


def parsed(documents: list[BenchDocument]) -> list[Any]:
    """ingest_svc's ``ParsedDocument`` of every document it would accept, in order.

    Documents ingest_svc would reject (empty, unsupported) are left out, as in the
    pipeline.
    """
    from ingest_svc.parsing import parse_document  # lazy: the parsers are heavy
    from ragbus.errors import PermanentError

    out = []
    for doc in documents:
        try:
            out.append(parse_document(doc.data, doc.filename, doc.content_type))
        except PermanentError:
            continue
    return out


def plain_texts(documents: list[BenchDocument]) -> list[str]:
    """Each accepted document's parsed text, sections joined by blank lines (for a peer)."""
    return ["\n\n".join(s.text for s in p.sections) for p in parsed(documents)]


def chunk_texts(documents: list[BenchDocument], embedder: Embedder) -> list[str]:
    """The chunk texts ingest_svc makes of ``documents``, in document order.

    Args:
        documents: What the benchmark uploaded.
        embedder: Supplies the tokenizer and token limit, as it does in ingest_svc.
    """
    from ingest_svc.chunking import ChunkingConfig, chunk_document
    from ingest_svc.settings import IngestSettings

    config = ChunkingConfig(
        max_tokens=embedder.max_tokens, overlap_tokens=IngestSettings().overlap_tokens
    )
    return [
        chunk.text
        for doc in parsed(documents)
        for chunk in chunk_document(doc, embedder.tokenizer, config)
    ]


def dense_texts(documents: list[BenchDocument], embedder: Embedder) -> tuple[list[str], int]:
    """What embed_svc embeds for ``documents``: every chunk's dense windows, in order.

    The model's work in the pipeline, for the raw reference: with dense windows
    (:mod:`ingest_svc.dense_windows`, on by default) a chunk is embedded as its
    windows, so timing the chunks' whole texts would time other work.

    Returns:
        The texts, and how many chunks they belong to.
    """
    from ingest_svc.chunking import ChunkingConfig
    from ingest_svc.dense_windows import chunk_and_window
    from ingest_svc.settings import IngestSettings
    from schemas import ChunkingStrategy
    from schemas.chunk_text import window_texts

    settings = IngestSettings()
    config = ChunkingConfig(max_tokens=embedder.max_tokens, overlap_tokens=settings.overlap_tokens)
    texts: list[str] = []
    chunks = 0
    for doc in parsed(documents):
        cut, windows = chunk_and_window(
            doc,
            embedder.tokenizer,
            config,
            ChunkingStrategy.TOKEN_WINDOW,
            settings.dense_window_tokens,
        )
        chunks += len(cut)
        for chunk, w in zip(cut, windows, strict=True):
            texts += window_texts(chunk.text, w.spans, w.prefix_chars)
    return texts, chunks
