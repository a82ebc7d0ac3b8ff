"""The ``token_window`` strategy in one tokenizer pass: cuts chosen from token offsets.

semantic-text-splitter finds its cuts by tokenising candidate chunks again and
again, and ``fit`` then tokenised every chunk once more to count it: on SciFact's
abstracts that was 1.9 ms of CPU per chunk, most of ingest's work. Here each window
of a page (:func:`~ingest_svc.chunk_limits.windows`) is tokenised once, with
offsets, and the cuts are chosen between tokens by the same rule the splitter
follows: a chunk holds at most ``capacity`` tokens and ends at the coarsest kind of
boundary that fits (a blank line, then a line break, a sentence end, a space,
punctuation, and only for a word longer than a chunk, inside it), as late as that
kind allows. The next chunk starts among the last ``overlap`` tokens, as early as
possible, at a boundary as coarse as the cut: neighbours share up to ``overlap``
tokens of whole sentences after a cut at a sentence end, of whole paragraphs after
one at a paragraph end (often none), of whole words after one at a space.

A chunk's token count is read from the offsets. For WordPiece (BERT) cutting
between pre-tokens leaves every token as it was, so the count is exact; for other
tokenizers it is an estimate, and :func:`~ingest_svc.chunking.chunk_document`
counts every final chunk once more and cuts any that do not fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from tokenizers import Tokenizer

from ingest_svc.chunk_limits import windows
from ingest_svc.chunking_strategies import PageText, Piece

SENTENCE_ENDS = frozenset(".!?\u3002\uff01\uff1f")  # and the CJK full stop, ! and ?
CLOSERS = frozenset("\"')]}\u2019\u201d\u00bb")  # and the closing curly quotes, guillemet

# Kinds of boundary between two tokens, coarsest last.
INSIDE_WORD, PUNCTUATION, SPACE, SENTENCE, LINE, PARAGRAPH, SECTION = range(7)


@dataclass(frozen=True, slots=True)
class Cut:
    """One chunk of a window: tokens ``[first, end)``, characters ``[start, stop)``."""

    first: int
    end: int
    start: int
    stop: int

    @property
    def tokens(self) -> int:
        """Tokens in the chunk (from the offsets)."""
        return self.end - self.first


def boundary_kinds(text: str, offsets: list[tuple[int, int]]) -> list[int]:
    """The kind of boundary before each token (index 0: before the first, unused).

    Args:
        text: The tokenised text.
        offsets: ``(start, end)`` character offsets of its tokens, in order.
    """
    kinds = [SECTION]
    append = kinds.append
    for (_, before_end), (start, _) in pairwise(offsets):
        if start == before_end:  # touching: inside a word, or at punctuation
            inside = text[before_end - 1].isalnum() and text[start].isalnum()
            append(INSIDE_WORD if inside else PUNCTUATION)
            continue
        gap = text[before_end:start]
        if gap != " ":
            newlines = gap.count("\n")
            if newlines:
                append(min(SECTION, LINE + newlines - 1))
                continue
            if not gap.isspace() and not any(c.isspace() for c in gap):
                append(PUNCTUATION)  # characters the tokenizer dropped, e.g. zero-width
                continue
        append(SENTENCE if _sentence_ends_at(text, before_end) else SPACE)
    return kinds


def _sentence_ends_at(text: str, position: int) -> bool:
    """Whether ``text[:position]`` ends a sentence (closing quotes and brackets aside)."""
    while position > 0 and text[position - 1] in CLOSERS:
        position -= 1
    return position > 0 and text[position - 1] in SENTENCE_ENDS


def cuts(text: str, offsets: list[tuple[int, int]], capacity: int, overlap: int) -> list[Cut]:
    """Chunks of one tokenised window; see the module docstring for the rule.

    Args:
        text: The window's text.
        offsets: Its tokens' character offsets.
        capacity: Most tokens per chunk.
        overlap: Most tokens a chunk shares with the one before it.
    """
    kinds = boundary_kinds(text, offsets)
    n, first, end, out = len(offsets), 0, 0, []
    while end < n:
        # a chunk always reaches past the one before: never only its overlap
        end = n if n - first <= capacity else _best_end(kinds, end, first + capacity)
        out.append(Cut(first, end, offsets[first][0], offsets[end - 1][1]))
        if end < n:
            first = _next_first(kinds, first, end, overlap)
    return out


def _best_end(kinds: list[int], after: int, limit: int) -> int:
    """The latest boundary of the coarsest kind in ``(after, limit]``."""
    best, coarsest = after + 1, -1
    for end in range(limit, after, -1):
        if kinds[end] > coarsest:
            best, coarsest = end, kinds[end]
    return best


def _next_first(kinds: list[int], first: int, end: int, overlap: int) -> int:
    """Where the chunk after ``[first, end)`` starts: the earliest boundary among its
    last ``overlap`` tokens that is as coarse as the cut at ``end`` (a space at
    least), so a chunk cut at a sentence end repeats whole sentences and one cut at
    a paragraph end repeats whole paragraphs; ``end`` when there is none."""
    coarse = max(SPACE, kinds[end])
    for start in range(max(first + 1, end - overlap), end):
        if kinds[start] >= coarse:
            return start
    return end


def token_windows(page: PageText, tokenizer: Tokenizer, capacity: int, overlap: int) -> list[Piece]:
    """The page cut into overlapping chunks of at most ``capacity`` tokens, each with
    its token count and the heading of the section where it starts.

    Args:
        page: The page's text and sections.
        tokenizer: A tokenizer that neither pads nor truncates.
        capacity: Most tokens per chunk, without special tokens.
        overlap: Tokens shared by neighbouring chunks, at most.
    """
    parts = windows(page.text)
    encodings = tokenizer.encode_batch(parts, add_special_tokens=False)
    pieces, base = [], 0
    for part, encoding in zip(parts, encodings, strict=True):
        for cut in cuts(part, encoding.offsets, capacity, overlap):
            piece = part[cut.start : cut.stop]
            if piece.strip():
                heading = page.heading_at(base + cut.start)
                pieces.append(Piece(piece, page.page, heading, cut.tokens))
        base += len(part)
    return pieces
