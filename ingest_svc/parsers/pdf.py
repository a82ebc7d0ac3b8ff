"""PDF documents: text per page with pypdf, heading paths from the outline.

Every section lies on one page and carries its 1-based page number, so chunks
can cite pages and never straddle two. Running headers and footers are dropped
where their page keeps body text without them
(:mod:`ingest_svc.parsers.running_lines`), and the document's
:class:`~ingest_svc.parsers.parsed.ParseReport` counts them. Heading paths come
from the PDF outline (bookmarks), which LaTeX, Word and most generators write:
an outline entry takes effect on its destination page at the first line that ends
with its title (allowing a numbering prefix such as ``2.1`` or ``Chapter 2:``), or at the top of
the page if no such line is found, and stays in effect until the next entry.

A PDF encrypted with an empty user password (owner-only restrictions) is
decrypted and read; one that needs a password is refused. Scanned PDFs have no
text layer and come out with no sections (OCR is out of scope).
"""

from __future__ import annotations

import io
import logging
from itertools import pairwise
from typing import Any

from pypdf import PasswordType, PdfReader

from ingest_svc.parsers.parsed import ParsedDocument, ParseReport, Section
from ingest_svc.parsers.running_lines import drop_running_lines
from ingest_svc.parsers.text import first_line_title, normalize_newlines
from ragbus.errors import DocumentParseError

log = logging.getLogger(__name__)

#: Characters a heading line may have beyond the outline title: room for a
#: numbering prefix like ``"2.10.4 "`` or ``"Chapter 12: "`` but not for a sentence.
HEADING_SLACK_CHARS = 16

Path = tuple[str, ...]


def parse_pdf(data: bytes, filename: str) -> ParsedDocument:
    """Parse a PDF into one or more sections per page.

    Args:
        data: Raw PDF bytes.
        filename: Name used in error messages.

    Returns:
        A document with parser ``"pypdf"``, ``page_count`` the number of pages,
        title from the metadata or else the first line of text.

    Raises:
        DocumentParseError: The PDF is encrypted with a password, corrupt, or no
            page could be read.
    """
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise DocumentParseError(
                f"encrypted PDF {filename!r}: a password is needed to read it",
                code="encrypted_pdf",
            )
        page_count = len(reader.pages)
        texts = [_page_text(reader, number) for number in range(page_count)]
        metadata_title = _metadata_title(reader)
        outline = _outline(reader)
    except DocumentParseError:
        raise
    except Exception as exc:  # pypdf raises many types on corrupt input, not only PdfReadError
        raise DocumentParseError(
            f"{filename}: corrupt PDF ({type(exc).__name__}: {exc})"[:500]
        ) from exc
    if page_count and all(text is None for text in texts):
        raise DocumentParseError(f"{filename}: corrupt PDF, no page could be read")

    first_text = next((text for text in texts if text), "")
    running = drop_running_lines(texts)
    texts = running.pages
    sections: list[Section] = []
    current: Path = ()
    for number, text in enumerate(texts):
        if text:
            entries = [path for page, path in outline if page == number]
            current = _page_sections(text, number + 1, current, entries, sections)
        else:
            current = next((path for page, path in reversed(outline) if page == number), current)
    return ParsedDocument(
        title=metadata_title or first_line_title(first_text),
        parser="pypdf",
        page_count=page_count,
        sections=sections,
        source_format="pdf",
        report=ParseReport(
            running_lines_dropped=running.lines_dropped,
            running_chars_dropped=running.chars_dropped,
            chars_extracted=running.chars_before,
            empty_pages=sum(1 for text in texts if not text),
        ),
    )


def _page_text(reader: PdfReader, number: int) -> str | None:
    """Text of a 0-based page, ``""`` if it has none, ``None`` if it cannot be read."""
    try:
        text = reader.pages[number].extract_text()
    except Exception as exc:  # one broken page should not lose the others
        log.warning("pdf page unreadable", extra={"page": number + 1, "error": repr(exc)})
        return None
    return normalize_newlines(text.replace("\x00", "")).strip()


def _metadata_title(reader: PdfReader) -> str | None:
    metadata = reader.metadata
    title = " ".join(str(metadata.title or "").split()) if metadata is not None else ""
    return title or None


def _outline(reader: PdfReader) -> list[tuple[int, Path]]:
    """``(0-based page, heading path)`` of each outline entry, sorted by page."""
    entries: list[tuple[int, Path]] = []

    def walk(items: list[Any], parent: Path) -> None:
        last = parent
        for item in items:
            if isinstance(item, list):  # children of the entry before the list
                walk(item, last)
                continue
            title = " ".join(str(getattr(item, "title", "") or "").split())
            if not title:
                continue
            last = (*parent, title)
            page = reader.get_destination_page_number(item)
            if page is not None and page >= 0:
                entries.append((page, last))

    try:
        walk(reader.outline, ())
    except Exception as exc:  # a broken outline only costs the heading paths
        log.warning("pdf outline unreadable", extra={"error": repr(exc)})
    entries.sort(key=lambda entry: entry[0])  # stable: keeps document order within a page
    return entries


def _page_sections(
    text: str, page: int, current: Path, entries: list[Path], out: list[Section]
) -> Path:
    """Append the sections of one page to ``out``; return the path in effect at its end."""
    cuts: list[tuple[int, Path]] = [(0, current)]
    position = 0
    for path in entries:
        found = _find_heading(text, path[-1], position)
        position = position if found is None else found
        cuts.append((position, path))
    cuts.append((len(text), ()))
    for (start, path), (end, _) in pairwise(cuts):
        body = text[start:end].strip("\n").rstrip()
        if body.strip():
            out.append(Section(body, page, path))
    return cuts[-2][1]


def _find_heading(text: str, title: str, start: int) -> int | None:
    """Offset of the first line at or after ``start`` that ends with ``title``."""
    wanted = " ".join(title.split()).casefold()
    offset = text.rfind("\n", 0, start) + 1 if start else 0
    for line in text[offset:].split("\n"):
        if offset >= start:
            normalized = " ".join(line.split()).casefold()
            if normalized.endswith(wanted) and len(normalized) <= len(wanted) + HEADING_SLACK_CHARS:
                return offset
        offset += len(line) + 1
    return None
