"""Word (DOCX) documents, read with python-docx and rendered to Markdown.

Paragraphs and tables are visited in body order. Paragraphs styled ``Heading N``
become ``#``-headings (a ``Title`` paragraph stays a paragraph and names the
document: it sits above ``Heading 1``, which has no Markdown level), list styles
become ``-`` items
and tables become Markdown tables; the result then goes through
:func:`~ingest_svc.parsers.markdown.markdown_sections`, so a DOCX gets heading
paths exactly like a Markdown upload. An ordinary paragraph starting with ``#``
is escaped so it does not become a heading (other block syntax is harmless:
blocks are separated by blank lines, so ``---`` cannot underline a setext
heading). DOCX has no fixed pages, so sections carry no page number.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import TypeGuard

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest_svc.parsers.markdown import markdown_sections
from ingest_svc.parsers.parsed import ParsedDocument
from ragbus.errors import DocumentParseError

_HEADING_STYLE = re.compile(r"heading\s*([1-6])")

MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
"""Largest total a DOCX package may inflate to (200 MiB); python-docx holds the XML
in memory, roughly 3x its size as an lxml tree."""
MAX_RATIO = 100
"""Largest compression ratio of a part above :data:`RATIO_FLOOR_BYTES`. Word XML
compresses about 5-20x; a zip bomb's repeated bytes compress 300-1000x."""
RATIO_FLOOR_BYTES = 5 * 1024 * 1024


def check_decompression_limits(data: bytes, filename: str) -> None:
    """Refuse a DOCX whose parts would inflate beyond the limits, before reading them.

    Sizes come from the zip directory; :mod:`zipfile` never inflates a part past its
    declared size (it stops and fails the CRC check), so a lying header cannot
    get around this.

    Raises:
        DocumentParseError: ``decompression_limit`` for a likely zip bomb,
            ``parse_failed`` for bytes that are not a zip package.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            parts = package.infolist()
    except zipfile.BadZipFile as exc:
        raise DocumentParseError(f"{filename}: corrupt DOCX (not a zip package: {exc})") from exc
    total = sum(p.file_size for p in parts)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise DocumentParseError(
            f"{filename}: DOCX inflates to {total} bytes, over the "
            f"{MAX_UNCOMPRESSED_BYTES}-byte decompression limit",
            code="decompression_limit",
        )
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > RATIO_FLOOR_BYTES and ratio > MAX_RATIO:
            raise DocumentParseError(
                f"{filename}: DOCX part {part.filename} inflates {ratio:.0f}x "
                f"({part.file_size} bytes), over the {MAX_RATIO}x decompression limit",
                code="decompression_limit",
            )


def parse_docx(data: bytes, filename: str) -> ParsedDocument:
    """Parse a DOCX file.

    Args:
        data: Raw bytes of an Office Open XML word-processing package.
        filename: Name used in error messages.

    Returns:
        A document with parser ``"python-docx"``; title from the core properties,
        else the first heading.

    Raises:
        DocumentParseError: The bytes are not a readable DOCX package, or would
            inflate past the decompression limits (a zip bomb).
    """
    check_decompression_limits(data, filename)
    try:
        document = docx.Document(io.BytesIO(data))
        items = list(document.iter_inner_content())
        blocks = [_render(item) for item in items]
        core_title = " ".join((document.core_properties.title or "").split())
        title_paragraph = next((" ".join(i.text.split()) for i in items if _is_title(i)), "")
    except Exception as exc:  # python-docx raises zip, XML and key errors on bad packages
        raise DocumentParseError(
            f"{filename}: corrupt DOCX ({type(exc).__name__}: {exc})"[:500]
        ) from exc
    heading_title, sections = markdown_sections("\n\n".join(b for b in blocks if b))
    return ParsedDocument(
        title=core_title or title_paragraph or heading_title,
        parser="python-docx",
        page_count=None,
        sections=sections,
        source_format="docx",
    )


def _render(item: Paragraph | Table) -> str:
    if isinstance(item, Table):
        return _table(item)
    text = " ".join(item.text.split())
    if not text:
        return ""
    style = _style(item)
    heading = _HEADING_STYLE.fullmatch(style)
    if heading:
        return "#" * int(heading.group(1)) + " " + text
    if text.startswith("#"):
        text = "\\" + text
    return f"- {text}" if style.startswith("list") else text


def _style(paragraph: Paragraph) -> str:
    return ((paragraph.style.name if paragraph.style is not None else "") or "").lower()


def _is_title(item: Paragraph | Table) -> TypeGuard[Paragraph]:
    return isinstance(item, Paragraph) and _style(item) == "title" and bool(item.text.strip())


def _table(table: Table) -> str:
    rows = [
        [" ".join(cell.text.split()).replace("|", "\\|") for cell in row.cells]
        for row in table.rows
    ]
    rows = [row for row in rows if any(row)]
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    lines = ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in rows]
    lines.insert(1, "|" + " --- |" * width)
    return "\n".join(lines)
