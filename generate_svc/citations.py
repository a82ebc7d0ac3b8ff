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
# An answer's sentences end at their markers: "... after a delay [1]. Then ..."
_AFTER_MARKER = re.compile(r"(?<=\])\s*")
_WORD = re.compile(r"\w+")
QUOTE_LEAD_CHARS = 60
"""Characters of the passage kept before the cited sentence when the quote cannot
start at the passage's beginning."""


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
        :data:`QUOTE_MAX_CHARS` (:func:`supporting_quote`): from its start, or from
        just before the first answer sentence citing it when that lies further on.
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
                quote=supporting_quote(passage.text, cited_sentences(answer, n)),
            )
        )
    return citations


def cited_sentences(answer: str, n: int) -> list[str]:
    """The answer's sentences that cite passage ``n``, markers taken out, in order."""
    parts = _AFTER_MARKER.split(answer)
    marker = re.compile(rf"\[(?:\d+\s*,\s*)*{n}(?:\s*,\s*\d+)*\]")
    cited = [_MARKER.sub("", part) for part in parts if marker.search(part)]
    return [sentence.lstrip(".!?;, ").strip() for sentence in cited]


def supporting_quote(text: str, sentences: Sequence[str], max_chars: int = QUOTE_MAX_CHARS) -> str:
    """``text`` shortened to ``max_chars`` so that it shows the first of ``sentences``.

    A sentence is found by its words in order, anything between them (the passage
    keeps Markdown and line breaks an answer's sentence may have lost). When the
    first found one ends past what :func:`shorten` keeps, the quote starts
    :data:`QUOTE_LEAD_CHARS` before it, at a word boundary, with a leading ``"…"``;
    otherwise, or when none is found (a model's paraphrase), it is ``shorten(text)``.
    """
    flat = _SPACE.sub(" ", text).strip()
    for sentence in sentences:
        words = _WORD.findall(sentence)
        found = re.search(r"\W+".join(words), flat) if words else None
        if found is None:
            continue
        if found.end() <= max_chars - 1:
            break
        start = flat.rfind(" ", 0, max(found.start() - QUOTE_LEAD_CHARS, 0)) + 1
        if start == 0:  # a long sentence near the start: the start shows it best
            break
        return "…" + shorten(flat[start:], max_chars - 1)
    return shorten(flat, max_chars)


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
