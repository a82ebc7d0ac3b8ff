"""Dense windows: a chunk's dense side as several shorter windows, its BM25 side whole.

On SciFact train the two sides want different granularities (docs/retrieval.md,
"Dense windows"): the 22M-parameter model matches a claim best against a passage of
about 128 tokens (dense nDCG@10 0.678 with 256-token chunks, 0.690 scored by the
best 128-token window of each), while BM25 wants the whole 256-token chunk (0.703
against 0.677 for 128-token chunks). So every chunk longer than a window is cut
again, by the same chunker, into windows of ``window_tokens`` (special tokens
included) that keep the chunk's context header; embed_svc embeds each window and
the vector store scores the chunk by its best window (Qdrant's multivector with
``MAX_SIM``). Fused by documents, that is 0.7478 cross-validated against 0.7382.

A window travels in ``chunks.ready`` as a character span of the chunk's text
(:attr:`schemas.ChunkPayload.dense_windows`), plus how many leading characters
(the header and its blank line) go in front of every window, so the event grows by
a few numbers per chunk instead of a second copy of the text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tokenizers import Tokenizer

from ingest_svc.chunking import Chunk, ChunkingConfig, chunk_document
from ingest_svc.parsers.parsed import ParsedDocument, Section
from schemas import ChunkingStrategy
from schemas.documents import CONTEXT_SEPARATOR

DEFAULT_WINDOW_TOKENS = 128
"""Tokens of a dense window, special tokens included: the best size tried on SciFact
train (docs/retrieval.md, "Chunk size and overlap, tried")."""


@dataclass(frozen=True, slots=True)
class Windows:
    """A chunk's dense windows: spans of its text and the prefix put before each.

    Attributes:
        spans: Character spans ``[start, end)`` of the chunk's ``text``; empty: the
            chunk is embedded whole (it fits one window, or windows are off).
        prefix_chars: Leading characters of ``text`` (the context header and its
            blank line) that start every window; 0 for none.
    """

    spans: tuple[tuple[int, int], ...] = ()
    prefix_chars: int = 0


WHOLE = Windows()
"""The chunk embedded as one text."""


def chunk_and_window(
    doc: ParsedDocument,
    tokenizer: Tokenizer,
    config: ChunkingConfig,
    strategy: ChunkingStrategy,
    window_tokens: int,
) -> tuple[list[Chunk], list[Windows]]:
    """:func:`~ingest_svc.chunking.chunk_document`, then each chunk's :func:`dense_windows`.

    Args:
        window_tokens: Tokens of a window, special tokens included; 0 turns windows
            off (every chunk embedded whole).

    Returns:
        The chunks, and beside each its windows.
    """
    chunks = chunk_document(doc, tokenizer, config, strategy)
    return chunks, [dense_windows(c, doc.title, tokenizer, config, window_tokens) for c in chunks]


def dense_windows(
    chunk: Chunk,
    title: str | None,
    tokenizer: Tokenizer,
    config: ChunkingConfig,
    window_tokens: int,
) -> Windows:
    """The windows of ``chunk``, cut from its passage by the token-window chunker.

    Each window holds at most ``window_tokens`` tokens with the special tokens and
    the chunk's context header, when the header fits a window's budget (a quarter of
    it, :mod:`ingest_svc.chunking_context`); neighbours share up to
    ``config.overlap_tokens`` tokens (at most half a window). A chunk that fits one
    window, or whose windows cannot be found verbatim in its text (a tokenizer that
    normalises it), is embedded whole: :data:`WHOLE`. A chunk just under a window can
    still be cut in two: the header's budget is rounded up (``BUDGET_STEP``), as in
    the measurement that chose the windows.
    """
    if not window_tokens:
        return WHOLE
    capacity = window_tokens - config.special_tokens
    window = replace(
        config, max_tokens=window_tokens, overlap_tokens=min(config.overlap_tokens, capacity // 2)
    )
    heading = tuple(chunk.heading.split(" > ")) if chunk.heading else ()
    passage = chunk.passage
    section = Section(passage, chunk.page, heading)
    parts = chunk_document(ParsedDocument(title, "windows", None, [section]), tokenizer, window)
    if len(parts) < 2:
        return WHOLE
    offset = len(chunk.text) - len(passage)
    # Every window starts with the chunk's header when any window's budget left room
    # for it (one whose exact count came out over lost it: it is a few tokens over
    # the window then, still far within the model's limit).
    headers = {part.header for part in parts} - {None}
    if headers and headers != {chunk.header}:
        return WHOLE
    prefix = len(str(chunk.header)) + len(CONTEXT_SEPARATOR) if headers else 0
    spans: list[tuple[int, int]] = []
    cursor = 0
    for part in parts:
        start = passage.find(part.passage, cursor)
        if start < 0:
            return WHOLE
        spans.append((offset + start, offset + start + len(part.passage)))
        cursor = start + 1
    return Windows(tuple(spans), prefix)
