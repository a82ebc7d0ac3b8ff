"""Turn the ``[n]`` markers of an answer into :class:`~schemas.queries.Citation` objects."""

import re
from collections.abc import Sequence

from schemas.queries import Citation, Passage

QUOTE_MAX_CHARS = 300
"""Longest quote kept in a citation: about two sentences, enough to show support."""

# "[3]" and the comma lists some models write, "[1, 2]"; not "[1-3]" ranges, which
# models rarely emit and which would make a single typo cite many passages.
_MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_SPACE = re.compile(r"\s+")
# Code is not citation: "argv[2]" in a code span or fenced block must not cite passage 2.
_CODE = re.compile(r"```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]*`", re.DOTALL)


def cited_numbers(answer: str) -> list[int]:
    """List the distinct passage numbers an answer cites, in ascending order.

    Markers inside Markdown code (inline spans and fenced blocks) are skipped.

    Args:
        answer: Answer text with ``[n]`` or ``[n, m]`` markers.

    Returns:
        Sorted distinct numbers, not checked against any passage list.
    """
    numbers: set[int] = set()
    for match in _MARKER.finditer(_CODE.sub(" ", answer)):
        numbers.update(int(part) for part in match.group(1).split(","))
    return sorted(numbers)


def shorten(text: str, max_chars: int = QUOTE_MAX_CHARS) -> str:
    """Collapse whitespace and cut ``text`` at a word boundary.

    Args:
        text: Any text.
        max_chars: Longest result in characters, the ellipsis included.

    Returns:
        ``text`` with runs of whitespace turned into single spaces; if longer than
        ``max_chars``, cut at the last space that fits and ended with ``"…"``.
    """
    flat = _SPACE.sub(" ", text).strip()
    if len(flat) <= max_chars:
        return flat
    cut = flat[: max_chars - 1]
    space = cut.rfind(" ")
    if space > max_chars // 2:  # do not throw away half the quote for one long word
        cut = cut[:space]
    return cut.rstrip() + "…"


def build_citations(answer: str, passages: Sequence[Passage]) -> list[Citation]:
    """Make one citation per distinct passage number the answer uses.

    Args:
        answer: Answer text whose ``[n]`` markers refer to ``passages`` by 1-based rank.
        passages: The passages the answerer was given, ranked best first.

    Returns:
        Citations ordered by ``n``; markers outside ``1..len(passages)`` are
        ignored, as are repeated ones. ``quote`` is the passage text shortened to
        :data:`QUOTE_MAX_CHARS`.
    """
    citations = []
    for n in cited_numbers(answer):
        if not 1 <= n <= len(passages):
            continue
        passage = passages[n - 1]
        citations.append(
            Citation(
                n=n,
                document_id=passage.document_id,
                filename=passage.filename,
                title=passage.title,
                page=passage.page,
                heading=passage.heading,
                chunk_id=passage.chunk_id,
                score=passage.score,
                quote=shorten(passage.text),
            )
        )
    return citations


def confidence(citations: Sequence[Citation]) -> float:
    """How well the answer's sources match the question, in [0, 1].

    Defined as the highest retrieval score among the cited passages, clipped to
    [0, 1]; 0.0 when the answer cites nothing (for example "not found"). With the
    default dense retrieval the score is the cosine of all-MiniLM-L6-v2 between
    question and chunk: on the Node.js docs and SciFact, passages that answer the
    question typically score 0.5-0.75, and off-topic ones stay below 0.35 (see
    :data:`generate_svc.extractive.DEFAULT_MIN_SCORE`). It says how well the
    sources were found, not whether the model's wording is right.

    Args:
        citations: The answer's citations.

    Returns:
        The confidence, rounded to 3 decimals.
    """
    if not citations:
        return 0.0
    return round(min(max(max(c.score for c in citations), 0.0), 1.0), 3)
