"""Markdown documents: one section per heading, with its heading path.

Headings come from markdown-it-py's block tokens and their line maps, so ATX
(``## Title``) and setext (``Title`` over ``---``) headings are both found, while
a ``#`` line inside a fenced code block is not a heading. Only top-level headings
count: a heading nested in a list item or block quote is decoration, not document
structure. Inline parsing is switched off for the document (a 10 MB paragraph
then costs milliseconds) and run only on heading lines, to turn
``### `child_process.spawn()` `` into the plain ``child_process.spawn()``.

Two kinds of lines are dropped because they are markup, not content: a leading
YAML front-matter block (``---`` ... ``---``), which CommonMark would otherwise
read as a setext heading, and link reference definitions
(``[foo]: https://...``), which are the only non-blank lines no block token
covers. The Node.js API docs end with hundreds of them; kept, they would become
chunks of bare URLs.
"""

from __future__ import annotations

import re
from itertools import pairwise

from markdown_it import MarkdownIt

from ingest_svc.parsers.parsed import ParsedDocument, Section
from ingest_svc.parsers.text import decode_text, first_line_title

_BLOCKS = MarkdownIt("commonmark").enable("table").disable("inline")
_INLINE = MarkdownIt("commonmark")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_INLINE_TEXT = frozenset({"text", "code_inline", "image", "softbreak", "hardbreak"})


def markdown_sections(text: str) -> tuple[str | None, list[Section]]:
    """Split Markdown into sections at top-level headings.

    Args:
        text: Markdown source with ``\\n`` newlines.

    Returns:
        ``(title, sections)``: the title is the first level-1 heading, else the
        first heading, else ``None``. Each section runs from its heading line to
        the line before the next heading (text before the first heading forms a
        section with heading path ``()``); blank sections are left out. Blank
        lines right after a heading are removed, so that a splitter keeps the
        heading with the start of its text instead of cutting it off alone.
    """
    lines = text.split("\n")
    first_line = 0
    front_matter = _FRONT_MATTER.match(text)
    if front_matter:
        first_line = text.count("\n", 0, front_matter.end())
        if not front_matter.group().endswith("\n"):
            first_line += 1
    headings, covered = _blocks("\n".join(lines[first_line:]), first_line, len(lines))

    stack: list[tuple[int, str]] = []
    bounds: list[tuple[int, int, tuple[str, ...]]] = [(first_line, first_line, ())]
    for start, end, level, name in headings:
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, name))
        bounds.append((start, end, tuple(t for _, t in stack)))
    bounds.append((len(lines), len(lines), ()))

    sections = []
    for (start, heading_end, path), (next_start, _, _) in pairwise(bounds):
        body = [
            line
            for n, line in enumerate(lines[heading_end:next_start], heading_end)
            if covered[n] or not line.strip()
        ]
        while body and not body[0].strip():  # keep the heading on its first paragraph
            body.pop(0)
        text = "\n".join(lines[start:heading_end] + body).strip("\n").rstrip()
        if text.strip():
            sections.append(Section(text, None, path))
    title: str | None = next((t for _, _, level, t in headings if level == 1), None)
    if title is None and headings:
        title = headings[0][3]
    return title, sections


def parse_markdown(data: bytes, filename: str) -> ParsedDocument:
    """Parse a Markdown file.

    Args:
        data: Raw bytes in any encoding :func:`~ingest_svc.parsers.text.decode_text` accepts.
        filename: Name used in error messages.

    Returns:
        A document of heading sections, parser ``"markdown-it"``.

    Raises:
        DocumentParseError: The bytes are binary.
    """
    text = decode_text(data, filename)
    title, sections = markdown_sections(text)
    return ParsedDocument(
        title=title or first_line_title(text),
        parser="markdown-it",
        page_count=None,
        sections=sections,
        source_format="markdown",
    )


def _blocks(
    body: str, line_offset: int, line_count: int
) -> tuple[list[tuple[int, int, int, str]], bytearray]:
    """Top-level headings and the lines covered by block tokens.

    Returns:
        ``(headings, covered)``: ``(first line, end line, level 1-6, plain title)``
        per heading, and a flag per line of the whole text, 1 where a top-level
        block (paragraph, list, fence, table, heading, HTML block...) covers it.
    """
    tokens = _BLOCKS.parse(body)
    covered = bytearray(line_count)
    headings = []
    for index, opening in enumerate(tokens):
        if opening.level != 0 or opening.map is None:
            continue
        start, end = (line + line_offset for line in opening.map)
        covered[start:end] = b"\x01" * (end - start)
        if opening.type == "heading_open":  # always followed by its inline token
            title = _plain(tokens[index + 1].content)
            if title:
                headings.append((start, end, int(opening.tag[1:]), title))
    return headings, covered


def _plain(markdown: str) -> str:
    """Heading Markdown as plain text: markup dropped, whitespace collapsed."""
    parts = []
    for block in _INLINE.parseInline(markdown):
        for child in block.children or []:
            if child.type in _INLINE_TEXT:
                parts.append(child.content or " ")
    return " ".join("".join(parts).split())
