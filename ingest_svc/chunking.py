"""Token-aware chunking of a parsed document, sized for the embedding model.

Defaults (:class:`ChunkingConfig`):

* ``max_tokens=256``: all-MiniLM-L6-v2 was trained on sequences of at most 256
  word pieces, and fastembed silently truncates longer input, so text past that
  point would never reach the vector. The two special tokens ([CLS], [SEP]) count
  against it, so a chunk holds at most 254 tokens and nothing is ever truncated.
* ``overlap_tokens=32``: 12.5% of a chunk is shared with its neighbour, enough
  to carry a sentence across a boundary without storing much text twice.
* ``max_chars=4096``: WordPiece maps any word longer than 100 characters to one
  ``[UNK]``, so a token cap alone would let a 1 MB base64 line through as a
  one-token chunk (and past NATS's 1 MB message limit). 4096 is 16 characters per
  token at 256 tokens; the Node.js API docs peak at 9.2 characters per token.

Three strategies (:class:`~schemas.ChunkingStrategy`), all within the same caps:

* ``token_window`` (the default): see :mod:`ingest_svc.token_windows` (one
  tokenizer pass per page; the counts it reads from offsets are checked by the one
  count of every final chunk that follows).
* ``sentence``: see :mod:`ingest_svc.chunking_strategies`.
* ``structure``, described below.

How ``structure`` cuts text: sections (a heading and its body; for PDFs, part of a page) are
the units. Consecutive sections on the same page are packed into one chunk while
they fit, so small sections share a chunk instead of becoming hundreds of
5-token chunks, a chunk boundary falls on a heading whenever the sections allow,
and no chunk crosses a page. A section too big for one chunk is split by
semantic-text-splitter's ``TextSplitter`` (paragraphs, then lines, sentences,
words), with overlap; its last piece may take the next small sections along. A
packed chunk is labelled with the heading path of the section holding most of
its tokens.

``TextSplitter`` rather than ``MarkdownSplitter`` for Markdown: on the 65 Node.js
API docs, ``MarkdownSplitter`` (0.33) left 316 of 6325 chunks (5%) that were only
a heading line or a code-fence opener such as ``\`\`\`cjs``: it cuts a heading or
fence off when what follows does not fit. Packing sections and splitting the big
ones with ``TextSplitter`` (Markdown sections keep their heading on the same
paragraph as the text after it) leaves 1 such chunk of 5681.

Oversized sections reach the splitter in windows of at most 100 000 characters
(:func:`~ingest_svc.chunk_limits.windows`, which says why), and every chunk passes
through :func:`~ingest_svc.chunk_limits.fit`, which enforces both caps whatever
the splitter did.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pysbd
from semantic_text_splitter import TextSplitter
from tokenizers import Tokenizer

from ingest_svc import chunking_strategies as strategies
from ingest_svc.chunk_limits import count_tokens, exact_counts, fit, fit_counted, windows
from ingest_svc.chunking_context import (
    context_budget,
    passage_chars,
    with_context,
    without_title_line,
)
from ingest_svc.chunking_strategies import SEPARATOR, Piece
from ingest_svc.parsers.parsed import ParsedDocument, Section
from ingest_svc.token_windows import token_windows
from schemas.documents import CONTEXT_SEPARATOR, ChunkingStrategy


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of text to embed.

    Attributes:
        index: Position in the document, 0 to n-1.
        text: The chunk text, never blank.
        token_count: Tokens of ``text`` without special tokens, under the tokenizer
            chunking used.
        page: 1-based PDF page, ``None`` for formats without pages.
        heading: Heading path joined with ``" > "``, ``None`` if there is none.
        header: The context header that ``text`` starts with (followed by a blank
            line), ``None`` if it has none; see :mod:`ingest_svc.chunking_context`.
    """

    index: int
    text: str
    token_count: int
    page: int | None
    heading: str | None
    header: str | None = None

    @property
    def passage(self) -> str:
        """``text`` without its context header: the document text this chunk holds."""
        return self.text[len(self.header) + len(CONTEXT_SEPARATOR) :] if self.header else self.text


@dataclass(frozen=True, slots=True)
class ChunkingConfig:
    """Chunk sizes; see the module docstring for where the defaults come from.

    Attributes:
        max_tokens: The embedding model's maximum sequence length, special tokens
            included.
        overlap_tokens: Tokens shared by consecutive chunks of one text.
        special_tokens: Tokens the model adds to every input ([CLS] and [SEP]).
        max_chars: Longest chunk in characters.
        context: Start every chunk with its document's title and heading path
            (:mod:`ingest_svc.chunking_context`).

    Raises:
        ValueError: The capacity ``max_tokens - special_tokens`` is not positive,
            the overlap is negative or not below the capacity, or ``max_chars < 1``.
    """

    max_tokens: int = 256
    overlap_tokens: int = 32
    special_tokens: int = 2
    max_chars: int = 4096
    context: bool = True

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"max_tokens {self.max_tokens} leaves no room after special tokens")
        if not 0 <= self.overlap_tokens < self.capacity:
            raise ValueError(
                f"overlap_tokens must be in [0, {self.capacity}), got {self.overlap_tokens}"
            )
        if self.max_chars < 1:
            raise ValueError(f"max_chars must be positive, got {self.max_chars}")

    @property
    def capacity(self) -> int:
        """Most tokens of text in a chunk: ``max_tokens - special_tokens``."""
        return self.max_tokens - self.special_tokens


def chunk_document(
    doc: ParsedDocument,
    tokenizer: Tokenizer,
    config: ChunkingConfig = ChunkingConfig(),
    strategy: ChunkingStrategy = ChunkingStrategy.TOKEN_WINDOW,
) -> list[Chunk]:
    """Split a parsed document into chunks that fit the embedding model.

    Args:
        doc: The parsed document.
        tokenizer: The embedding model's tokenizer. It is not modified; if it pads
            or truncates, a copy without padding and truncation is used.
        config: Chunk sizes.
        strategy: Where chunks are cut; see the module docstring.

    Returns:
        Chunks in document order with indexes 0 to n-1. Every chunk satisfies
        ``token_count + config.special_tokens <= config.max_tokens`` and
        ``len(text) <= config.max_chars``. The same input gives the same output.
    """
    counter = _tools(tokenizer, config.capacity, config.overlap_tokens)[0]
    sections, budget = doc.sections, 0
    if config.context:
        sections = without_title_line(doc.sections, doc.title)
        budget = context_budget(counter, doc.title, (s.heading for s in sections), config.capacity)
    body = config
    if budget:  # the passages leave room for the header
        body = replace(
            config,
            max_tokens=config.max_tokens - budget,
            overlap_tokens=min(config.overlap_tokens, config.capacity - budget - 1),
            max_chars=passage_chars(config.max_chars),
        )
    pieces = _pieces(sections, tokenizer, body, strategy)
    fitted = fit_counted(
        [p.text for p in pieces], [p.tokens for p in pieces], counter, body.capacity, body.max_chars
    )
    headings = [" > ".join(pieces[source].heading) or None for source, _, _, _ in fitted]
    passages = [(text, h) for (_, text, _, _), h in zip(fitted, headings, strict=True)]
    if budget:  # counts every final text: header and passage
        texts = with_context(passages, doc.title, counter, config.capacity)
    else:
        texts = [(text, count, None) for text, count in exact_counts(fitted, counter)]
    chunks: list[Chunk] = []
    for (source, passage, _, _), heading, (text, count, header) in zip(
        fitted, headings, texts, strict=True
    ):
        page = pieces[source].page
        if count <= config.capacity:
            chunks.append(Chunk(len(chunks), text, count, page, heading, header))
            continue
        # a count read from token offsets was short (a tokenizer that is not
        # WordPiece): cut the passage again by exact counts
        for _, part, exact in fit([passage], counter, config.capacity, config.max_chars):
            chunks.append(Chunk(len(chunks), part, exact, page, heading, None))
    return chunks


def _pieces(
    sections: list[Section],
    tokenizer: Tokenizer,
    config: ChunkingConfig,
    strategy: ChunkingStrategy,
) -> list[Piece]:
    """Candidate passages of ``strategy``, page by page, sized by ``config``."""
    counter, splitter = _tools(tokenizer, config.capacity, config.overlap_tokens)
    pieces: list[Piece] = []
    for page in strategies.pages(sections):
        if strategy == ChunkingStrategy.STRUCTURE:
            pieces.extend(_pack(page.sections, page.page, splitter, counter, config))
        elif strategy == ChunkingStrategy.SENTENCE:
            pieces.extend(
                strategies.sentence(
                    page,
                    pysbd.Segmenter(language="en", clean=False),
                    splitter,
                    counter,
                    config.capacity,
                    config.overlap_tokens,
                    config.max_chars,
                )
            )
        else:
            pieces.extend(token_windows(page, counter, config.capacity, config.overlap_tokens))
    return pieces


_TOOLS: dict[tuple[int, int, int], tuple[Tokenizer, Tokenizer, TextSplitter]] = {}


def _tools(tokenizer: Tokenizer, capacity: int, overlap: int) -> tuple[Tokenizer, TextSplitter]:
    """The unpadded token counter and the splitter for ``tokenizer``, built once.

    Both are built by serialising the whole tokenizer (about 0.7 MB of JSON for
    all-MiniLM-L6-v2) and parsing it again; per document that took ~80% of
    chunking time on SciFact's short abstracts (py-spy). Keyed by the tokenizer's
    identity, which is held in the entry so the id cannot be reused.
    """
    key = (id(tokenizer), capacity, overlap)
    entry = _TOOLS.get(key)
    if entry is None or entry[0] is not tokenizer:
        counter = _unpadded(tokenizer)
        splitter = TextSplitter.from_huggingface_tokenizer(counter, capacity, overlap=overlap)
        entry = _TOOLS[key] = (tokenizer, counter, splitter)
    return entry[1], entry[2]


def _unpadded(tokenizer: Tokenizer) -> Tokenizer:
    """The tokenizer itself, or a copy, that neither pads nor truncates.

    A tokenizer.json often ships both (all-MiniLM-L6-v2's pads and truncates to
    128), which would make every count wrong.
    """
    if tokenizer.truncation is None and tokenizer.padding is None:
        return tokenizer
    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_truncation()
    copy.no_padding()
    return copy


def _pack(
    sections: list[Section],
    page: int | None,
    splitter: TextSplitter,
    counter: Tokenizer,
    config: ChunkingConfig,
) -> list[Piece]:
    """Pack consecutive same-page sections into chunks; split the oversized ones.

    Token counts of packed sections are added up: BERT's pre-tokenizer splits at
    whitespace, so joining texts with a blank line adds no token. ``fit`` checks
    every chunk anyway, for tokenizers where that is not exact.
    """
    small = [s.text if len(s.text) <= config.max_chars else "" for s in sections]
    pieces: list[Piece] = []
    pack: list[tuple[str, tuple[str, ...], int]] = []  # (text, heading path, tokens)

    def flush() -> None:
        if pack:
            heading = max(pack, key=lambda member: member[2])[1]  # first on a tie
            pieces.append(Piece(SEPARATOR.join(m[0] for m in pack), page, heading))
            pack.clear()

    for section, count in zip(sections, count_tokens(counter, small), strict=True):
        text = section.text
        if count > config.capacity or len(text) > config.max_chars:
            flush()
            chunked = splitter.chunk_all(windows(text))
            parts = [part for chunks in chunked for part in chunks if part.strip()]
            if not parts:
                continue
            pieces.extend(Piece(part, page, section.heading) for part in parts[:-1])
            text = parts[-1]  # may share a chunk with the sections that follow
            count = count_tokens(counter, [text])[0]
        if pack and (
            sum(m[2] for m in pack) + count > config.capacity
            or sum(len(m[0]) + len(SEPARATOR) for m in pack) + len(text) > config.max_chars
        ):
            flush()
        pack.append((text, section.heading, count))
    flush()
    return pieces
