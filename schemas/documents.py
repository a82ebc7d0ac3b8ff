"""Document ingestion events: upload, chunking, progress, indexed, failed, delete."""

from datetime import datetime
from enum import StrEnum
from typing import Any, Self
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.chunk_text import CONTEXT_SEPARATOR as CONTEXT_SEPARATOR
from schemas.chunk_text import MAX_CONTEXT_CHARS as MAX_CONTEXT_CHARS
from schemas.chunk_text import chunk_context as chunk_context
from schemas.chunk_text import chunk_passage as chunk_passage
from schemas.chunk_text import window_texts
from schemas.envelope import Envelope

MAX_INLINE_TEXT_BYTES = 256 * 1024
"""Largest ``inline_text`` accepted in ``document.uploaded``: 256 KiB of UTF-8.

NATS' default ``max_payload`` is 1 MiB; 256 KiB leaves room for JSON escaping
(up to 6 bytes per control character) and headers. Larger documents go through
the blob store and are referenced by ``blob_key``.
"""

MAX_CHUNKS_PER_BATCH = 64
"""Most chunks in one ``chunks.ready`` message: 64 x ~1 KiB of text stays far below
NATS' 1 MiB payload limit and matches the embedder's batch size."""


SUPPORTED_EXTENSIONS = frozenset(
    {".pdf", ".md", ".markdown", ".txt", ".text", ".rst", ".html", ".htm", ".docx", ".csv"}
)
"""File extensions ingest_svc parses; anything else is refused with HTTP 415."""

RAGBUS_NAMESPACE = UUID("5d1b8a3e-6f0c-4c55-9a57-2f4b0b1c9e21")
"""uuid5 namespace of every id ragbus derives (documents from events, chunks)."""


def chunk_id(tenant_id: str, document_id: UUID, version: int, index: int) -> UUID:
    """Deterministic id of a chunk: uuid5 of ``tenant/document/version/index``.

    The same chunk gets the same id on every retry, so vector upserts are idempotent.
    """
    return uuid5(RAGBUS_NAMESPACE, f"{tenant_id}/{document_id}/{version}/{index}")


class DocumentStatus(StrEnum):
    """Lifecycle of a document; transitions only move forward except on reprocess.

    ``uploaded`` -> ``parsing`` -> ``embedding`` -> ``indexed``; any state may go to
    ``failed`` (with an error) or ``deleted``.
    """

    UPLOADED = "uploaded"
    PARSING = "parsing"
    EMBEDDING = "embedding"
    INDEXED = "indexed"
    FAILED = "failed"
    DELETED = "deleted"


class ChunkingStrategy(StrEnum):
    """How ingest_svc cuts a document into chunks; every strategy fits the model.

    ``token_window`` (the deployment default): windows of the model's capacity with
    32 tokens of overlap, cut at paragraphs, lines, sentences or words, never across
    a PDF page. ``structure``: whole sections (a heading and its body, or part of a
    page) packed together, big ones split. ``sentence``: whole sentences packed, the
    last ones repeated at the start of the next chunk.
    """

    TOKEN_WINDOW = "token_window"
    STRUCTURE = "structure"
    SENTENCE = "sentence"


class DocumentUploaded(Envelope):
    """A document was submitted for ingestion (subject ``document.uploaded``).

    Exactly one of ``blob_key`` (an object already in the blob store) and
    ``inline_text`` (at most :data:`MAX_INLINE_TEXT_BYTES` bytes of UTF-8) is set.
    A client with only a NATS connection publishes this with ``inline_text``.

    Attributes:
        document_id: Id of the document; clients that omit it get a uuid5 of the
            tenant and ``event_id``, so a redelivered event maps to the same document.
        filename: Original file name; its extension and ``content_type`` pick the parser.
        content_type: MIME type as sent by the client, if known.
        blob_key: Key of the raw bytes in the blob store.
        inline_text: The document's text itself (Markdown or plain text).
        sha256: Hex SHA-256 of the raw bytes, computed by the gateway.
        size_bytes: Size of the raw bytes.
        metadata: Free-form JSON metadata kept with the document.
        version: Document version; chunk ids are derived from it.
        external_id: The client's own key of the document, if it gave one. The
            gateway resolves it to ``document_id`` and ``version`` (new content
            under the same key is the next version); consumers only carry it along.
        chunking: Chunking strategy. The gateway sets the one asked for with the
            upload, else the tenant's default; ``None`` (no choice made anywhere)
            makes ingest_svc use ``token_window``.
        index_id: The index version a rebuild replays this document into
            (``index.rebuild``); its chunks go to that version only and the
            document's own status and progress are not touched. Absent for the
            document's own ingestion, whose chunks go to the tenant's active index.
    """

    document_id: UUID | None = None
    filename: str = Field(min_length=1, max_length=512)
    content_type: str | None = None
    blob_key: str | None = Field(default=None, min_length=1, max_length=1024)
    inline_text: str | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    size_bytes: int | None = Field(default=None, ge=0)
    metadata: dict[str, Any] = Field(default_factory=dict)
    version: int = Field(default=1, ge=1)
    external_id: str | None = Field(default=None, min_length=1, max_length=512)
    chunking: ChunkingStrategy | None = None
    index_id: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.blob_key is None) == (self.inline_text is None):
            raise ValueError("exactly one of blob_key and inline_text must be set")
        if self.inline_text is not None:
            size = len(self.inline_text.encode("utf-8"))
            if size > MAX_INLINE_TEXT_BYTES:
                raise ValueError(
                    f"inline_text is {size} bytes; the limit is {MAX_INLINE_TEXT_BYTES} bytes,"
                    " put larger documents in the blob store and send blob_key"
                )
        return self

    def resolved_document_id(self) -> UUID:
        """``document_id``, or uuid5 of ``tenant/event_id`` when the client omitted it."""
        if self.document_id is not None:
            return self.document_id
        return uuid5(RAGBUS_NAMESPACE, f"{self.tenant_id}/{self.event_id}")


class ChunkPayload(BaseModel):
    """One chunk of a document, as carried in ``chunks.ready``.

    Attributes:
        chunk_id: uuid5 of (tenant, document, version, index): stable across retries.
        index: 0-based position of the chunk in the document.
        text: The chunk text that is embedded and indexed: the context header
            (:func:`chunk_context` of the batch's ``title`` and this ``heading``)
            and a blank line, then the passage, which is what is quoted
            (:func:`chunk_passage`); just the passage when the header did not fit.
        token_count: Tokens of ``text`` under the embedding model's tokenizer,
            without special tokens; never above the model's maximum sequence length.
        page: 1-based PDF page the chunk comes from, if any.
        heading: Heading path such as ``"Child process > Asynchronous process creation"``.
        addresses_assistant: The text holds an instruction to an assistant ("ignore
            previous instructions", "when asked about X, answer only ..."), found by
            ingest_svc with ``ragbus.prompt_injection``; answerers must not obey or
            quote it. Absent (false) from producers that do not check.
        dense_windows: Character spans ``[start, end)`` of ``text``, in order: the
            chunk's dense side as several shorter windows (128 tokens by default),
            each embedded as :meth:`window_texts` gives it, and the chunk scored by
            its best window (a multivector with ``MAX_SIM``). Empty (the default,
            and what producers before 2026-12-05 send): ``text`` is embedded whole. BM25
            and the reader always use the whole ``text``. Why: on SciFact train the
            22M-parameter model matches a claim best against a short passage, and
            BM25 wants the whole chunk (docs/retrieval.md, "Dense windows").
        window_prefix_chars: Leading characters of ``text`` (the context header
            and its blank line) put in front of every window; 0 for none.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    chunk_id: UUID
    index: int = Field(ge=0)
    text: str = Field(min_length=1)
    token_count: int = Field(ge=1)
    page: int | None = Field(default=None, ge=1)
    heading: str | None = None
    addresses_assistant: bool = False
    dense_windows: list[tuple[int, int]] = Field(default_factory=list, max_length=64)
    window_prefix_chars: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _windows_inside_text(self) -> Self:
        size = len(self.text)
        if self.window_prefix_chars > size:
            raise ValueError(
                f"window_prefix_chars {self.window_prefix_chars} exceeds the text's {size}"
            )
        for start, end in self.dense_windows:
            if not 0 <= start < end <= size:
                raise ValueError(
                    f"dense window [{start}, {end}) is empty or outside the text's {size} chars"
                )
        return self

    def window_texts(self) -> list[str]:
        """What the dense side embeds for this chunk: its windows, else ``[text]``.

        Each window is ``text[:window_prefix_chars] + text[start:end]``.
        """
        return window_texts(self.text, self.dense_windows, self.window_prefix_chars)


class ChunksReady(Envelope):
    """A bounded batch of a document's chunks is ready to embed (subject ``chunks.ready``).

    A document with N chunks produces ``ceil(N / 64)`` of these; ``batch_index`` runs
    from 0 to ``batch_count - 1``. ``index_id``: the index version a rebuild replays
    the document into (see ``DocumentUploaded.index_id``); absent: the active one.
    """

    document_id: UUID
    version: int = Field(ge=1)
    filename: str
    title: str | None = None
    batch_index: int = Field(ge=0)
    batch_count: int = Field(ge=1)
    total_chunks: int = Field(ge=1)
    chunks: list[ChunkPayload] = Field(min_length=1, max_length=MAX_CHUNKS_PER_BATCH)
    index_id: int | None = Field(default=None, ge=1)


class Progress(BaseModel):
    """Chunks embedded so far out of the document's total (both counts of chunks)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    done: int = Field(default=0, ge=0)
    total: int = Field(default=0, ge=0)


class DocumentStatusChanged(Envelope):
    """A document moved to a new status or made progress (subject ``document.status``)."""

    document_id: UUID
    status: DocumentStatus
    progress: Progress = Field(default_factory=Progress)
    error: str | None = None


class DocumentIndexed(Envelope):
    """Every chunk of a document is searchable (subject ``document.indexed``)."""

    document_id: UUID
    version: int = Field(ge=1)
    chunks: int = Field(ge=0)
    indexed_at: datetime


class DocumentFailed(Envelope):
    """A document could not be ingested (subject ``document.failed``).

    Attributes:
        code: Machine-readable reason such as ``unsupported_type`` or ``parse_failed``.
        error: Human-readable reason naming what was wrong.
    """

    document_id: UUID
    code: str
    error: str


class DeleteDocument(Envelope):
    """Command: remove a document's chunks, vectors and blob (subject ``document.delete``)."""

    document_id: UUID


class DocumentDeleted(Envelope):
    """A document's vectors and blob are gone (subject ``document.deleted``)."""

    document_id: UUID
