"""Running headers and footers of paged text: found by repetition, dropped only over body.

A running header (footer) is a first (last) line repeated across pages, compared
with digits masked so ``"Chapter 4: Function reference 17"`` and a bare page number
match their counterparts on other pages. Repetition alone cannot tell a running
header from templated content: a 2,000-page PDF whose pages are one line each,
``"Page N. Sensor calibration record number N ..."``, repeats its only line on every
page, and dropping it kept 1 page of 2,000. So a repeated line is dropped only
where its page keeps body text without it: another line with a letter or digit.
A page never ends empty because of this filter; what it dropped is counted
(:class:`RunningLines`) so a document's detail can show it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

#: Pages on which the same first (or last) line must appear for it to count as a
#: running header (or footer). Three rules out coincidence for plain lines; a line
#: with a number (a page number, as in ``"Chapter 3: Utilities 6"``, whose chapter
#: covers only two pages of libtasn1.pdf) needs two.
RUNNING_LINE_MIN_PAGES = 3
NUMBERED_RUNNING_LINE_MIN_PAGES = 2

_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"\w")


@dataclass(frozen=True, slots=True)
class RunningLines:
    """Pages with their running headers and footers dropped, and what that cost.

    Attributes:
        pages: Text of each page in order; ``None`` for a page that could not be
            read, ``""`` for one without text. A page that had text still has some.
        lines_dropped: Header and footer lines dropped over all pages.
        chars_dropped: Characters of those lines.
        chars_before: Characters of all pages' text before dropping anything.
    """

    pages: list[str | None]
    lines_dropped: int
    chars_dropped: int
    chars_before: int


def drop_running_lines(texts: list[str | None]) -> RunningLines:
    """Remove running headers and footers where the page keeps body text without them.

    The first page with text keeps its lines: a title page has no running header,
    and a first line repeated later is the title that the running header echoes.

    Args:
        texts: Each page's text with ``\\n`` line breaks, stripped; ``None`` for an
            unreadable page.

    Returns:
        The cleaned pages and the counts of what was dropped.
    """
    firsts = Counter(line_key(text.split("\n", 1)[0]) for text in texts if text)
    lasts = Counter(line_key(text.rsplit("\n", 1)[-1]) for text in texts if text)
    title_page = next((number for number, text in enumerate(texts) if text), -1)
    cleaned: list[str | None] = []
    lines = chars = 0
    for number, text in enumerate(texts):
        if not text or number == title_page:
            cleaned.append(text)
            continue
        kept, dropped = _without_running(text, firsts, lasts)
        cleaned.append(kept)
        lines += len(dropped)
        chars += sum(len(line) for line in dropped)
    before = sum(len(text) for text in texts if text)
    return RunningLines(cleaned, lines, chars, before)


def _without_running(text: str, firsts: Counter[str], lasts: Counter[str]) -> tuple[str, list[str]]:
    """The page without its running first and last line, if body text remains."""
    lines = text.split("\n")
    start, end = 0, len(lines)
    if _is_running(firsts, lines[0]):
        start = 1
    if end - start > 0 and _is_running(lasts, lines[-1]):
        end -= 1
    body = lines[start:end]
    if not any(_WORD.search(line) for line in body):
        return text, []  # nothing but the repeated lines: they are the page's content
    return "\n".join(body).strip(), lines[:start] + lines[end:]


def _is_running(counts: Counter[str], line: str) -> bool:
    key = line_key(line)
    needed = NUMBERED_RUNNING_LINE_MIN_PAGES if "#" in key else RUNNING_LINE_MIN_PAGES
    return counts[key] >= needed


def line_key(line: str) -> str:
    """A line compared across pages: whitespace collapsed, case folded, digits ``#``."""
    return _DIGITS.sub("#", " ".join(line.split()).casefold())
