"""The parsed form of an uploaded document, shared by every ``parse_*`` module.

Kept apart from :mod:`ingest_svc.parsing` so that the format modules can build
these values without importing the dispatcher that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Section:
    """A run of text with one location in the source document.

    Attributes:
        text: The text, non-empty after stripping. Markdown-derived sections start
            with their own heading line, so a chunk that starts there carries it.
        page: 1-based PDF page the text is on, ``None`` for formats without pages.
        heading: Heading path in effect, outermost first, for example
            ``("Child process", "Asynchronous process creation")``; ``()`` if none.
    """

    text: str
    page: int | None
    heading: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """Text and metadata extracted from one upload.

    Attributes:
        title: Document title (HTML ``<title>``, PDF metadata, first Markdown
            heading, or the first line), ``None`` if nothing suitable was found.
        parser: Library that produced the text, for example ``"pypdf"``,
            ``"markdown-it"``, ``"trafilatura"`` or ``"charset-normalizer"``.
        page_count: Pages in a PDF (including pages without text), else ``None``.
        sections: Sections in document order; consecutive sections with the same
            ``page`` are contiguous text.
        language: BCP 47 tag when cheaply known (``<html lang>``), else ``None``.
        source_format: Detected format (``"pdf"``, ``"markdown"``, ``"html"``,
            ``"text"`` or ``"docx"``). Markdown, HTML and DOCX sections hold
            Markdown (HTML and DOCX are converted to it).
    """

    title: str | None
    parser: str
    page_count: int | None
    sections: list[Section]
    language: str | None = None
    source_format: str = "text"
