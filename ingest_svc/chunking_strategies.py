"""Pages, and the ``sentence`` strategy of :func:`~ingest_svc.chunking.chunk_document`.

``sentence`` and ``token_window`` (:mod:`ingest_svc.token_windows`) work on one page
at a time (:class:`PageText`: the page's sections joined by a blank line, or the
whole document for formats without pages), so no chunk crosses a PDF page, and
every chunk is a substring of its page's text. A chunk's heading is the heading
path of the section where it starts.

``sentence`` segments with pysbd. pysbd's time grows faster than linearly on a
long run without sentence ends (measured: 10 000 characters of one sentence in
0.06 s, 100 000 in 4 s), so sections reach it in windows of
:data:`SENTENCE_WINDOW_CHARS` characters, cut at a blank line, newline or space.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from itertools import groupby

import pysbd
from semantic_text_splitter import TextSplitter
from tokenizers import Tokenizer

from ingest_svc.chunk_limits import count_tokens, windows
from ingest_svc.parsers.parsed import Section

SEPARATOR = "\n\n"

#: Characters per pysbd call; a window holds about 50 sentences of English prose.
SENTENCE_WINDOW_CHARS = 10_000


@dataclass(frozen=True, slots=True)
class Piece:
    """A candidate chunk before the caps are enforced by ``fit``.

    ``tokens`` is its token count when the strategy already knows it (read from
    token offsets, see :mod:`ingest_svc.token_windows`), else ``None``.
    """

    text: str
    page: int | None
    heading: tuple[str, ...]
    tokens: int | None = None


@dataclass(frozen=True, slots=True)
class PageText:
    """The sections of one page joined by :data:`SEPARATOR`.

    Attributes:
        text: The joined text.
        page: 1-based PDF page, ``None`` for formats without pages.
        sections: The sections, in order.
        starts: Offset in ``text`` where each section starts.
    """

    text: str
    page: int | None
    sections: list[Section]
    starts: list[int]

    def heading_at(self, offset: int) -> tuple[str, ...]:
        """Heading path of the section holding the character at ``offset``."""
        return self.sections[max(0, bisect_right(self.starts, offset) - 1)].heading


def pages(sections: list[Section]) -> list[PageText]:
    """Group consecutive sections of the same page into :class:`PageText` values."""
    out = []
    for page, group in groupby(sections, key=lambda section: section.page):
        members = list(group)
        starts, offset = [], 0
        for section in members:
            starts.append(offset)
            offset += len(section.text) + len(SEPARATOR)
        text = SEPARATOR.join(section.text for section in members)
        out.append(PageText(text, page, members, starts))
    return out


def split(page: PageText, start: int, end: int, splitter: TextSplitter) -> list[Piece]:
    """``page.text[start:end]`` cut by ``splitter``, window by window, headed by offset."""
    pieces, base = [], start
    for window in windows(page.text[start:end]):
        for offset, text in splitter.chunk_indices(window):
            if text.strip():
                pieces.append(Piece(text, page.page, page.heading_at(base + offset)))
        base += len(window)
    return pieces


def sentence_spans(page: PageText, segmenter: pysbd.Segmenter) -> list[tuple[int, int]]:
    """``(start, end)`` of every sentence of the page, whitespace excluded.

    Sentences never cross a section. A Markdown heading line (pysbd makes it a
    sentence of its own) joins the sentence after it, so no chunk ends with a
    heading cut off from its text. If pysbd's segments do not add up to the window
    (it should not change text with ``clean=False``), the window counts as one
    sentence rather than losing text.
    """
    spans = []
    for section, start in zip(page.sections, page.starts, strict=True):
        base, held = start, None  # held: start of a heading waiting for its text
        for window in windows(section.text, SENTENCE_WINDOW_CHARS):
            # One word (a hex or base64 run, say) is one sentence: pysbd would take
            # seconds per window to say so.
            segments = segmenter.segment(window) if len(window.split(maxsplit=1)) > 1 else []
            if "".join(segments) != window:
                segments = [window]
            for segment in segments:
                body = segment.strip()
                if body:
                    lead = base + len(segment) - len(segment.lstrip())
                    first = lead if held is None else held
                    held = None
                    if body.startswith("#") and "\n" not in body:
                        held = first
                    else:
                        spans.append((first, lead + len(body)))
                base += len(segment)
        if held is not None:
            spans.append((held, start + len(section.text.rstrip())))
    return spans


def sentence(
    page: PageText,
    segmenter: pysbd.Segmenter,
    splitter: TextSplitter,
    counter: Tokenizer,
    capacity: int,
    overlap_tokens: int,
    max_chars: int,
) -> list[Piece]:
    """Whole sentences packed up to ``capacity``; the last ones (at most
    ``overlap_tokens``) start the next chunk too. A sentence too big for one chunk
    is cut by ``splitter`` into chunks of its own.

    A chunk is the page text from its first sentence's start to its last one's
    end, so the whitespace and line breaks in between are kept. Token counts of
    sentences are added up (BERT's pre-tokenizer splits at whitespace, so the text
    between them adds no token); ``fit`` checks every chunk anyway.
    """
    spans = sentence_spans(page, segmenter)
    counts = count_tokens(counter, [page.text[start:end] for start, end in spans])
    pieces: list[Piece] = []
    pack: list[int] = []  # indexes into spans
    fresh = 0  # first index in pack that no earlier chunk holds

    def emit() -> None:
        if fresh < len(pack):
            start, end = spans[pack[0]][0], spans[pack[-1]][1]
            heading = page.heading_at(spans[pack[fresh]][0])
            pieces.append(Piece(page.text[start:end], page.page, heading))

    def fits(members: list[int], extra: int) -> bool:
        tokens = sum(counts[m] for m in members) + counts[extra]
        return tokens <= capacity and spans[extra][1] - spans[members[0]][0] <= max_chars

    for index, ((start, end), count) in enumerate(zip(spans, counts, strict=True)):
        if count > capacity or end - start > max_chars:
            emit()
            pack, fresh = [], 0
            pieces.extend(split(page, start, end, splitter))
            continue
        if pack and not fits(pack, index):
            emit()
            tail: list[int] = []
            for member in reversed(pack[1:]):  # never the whole chunk again
                if sum(counts[m] for m in tail) + counts[member] > overlap_tokens:
                    break
                tail.insert(0, member)
            while tail and not fits(tail, index):
                tail.pop(0)
            pack, fresh = tail, len(tail)
        pack.append(index)
    emit()
    return pieces
