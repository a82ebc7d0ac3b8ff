"""The parsed form of an uploaded document, shared by every ``parse_*`` module.

Kept apart from :mod:`ingest_svc.parsing` so that the format modules can build
these values without importing the dispatcher that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MOST = 0.5
"""Share of a document past which a loss is "most of it" and earns a warning."""


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
class ParseReport:
    """What parsing left out of a document, shown in its detail.

    Attributes:
        running_lines_dropped: Lines dropped as running headers or footers (PDF).
        running_chars_dropped: Characters of those lines.
        chars_extracted: Characters of text extracted, before anything was dropped.
        empty_pages: Pages without text at the end (blank, scanned or unreadable);
            the header/footer filter never empties a page.
    """

    running_lines_dropped: int = 0
    running_chars_dropped: int = 0
    chars_extracted: int = 0
    empty_pages: int = 0

    def warning(self, page_count: int | None) -> str | None:
        """A code when the document lost most of its text, else ``None``.

        Returns:
            ``"most_text_dropped"`` when running headers and footers were more than
            :data:`MOST` of the extracted characters; ``"most_pages_empty"`` when
            more than :data:`MOST` of ``page_count`` pages have no text (a scan
            without a text layer); else ``None``.
        """
        if self.running_chars_dropped > MOST * self.chars_extracted:
            return "most_text_dropped"
        if page_count and self.empty_pages > MOST * page_count:
            return "most_pages_empty"
        return None


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
        report: What parsing dropped (running headers and footers, empty pages).
    """

    title: str | None
    parser: str
    page_count: int | None
    sections: list[Section]
    language: str | None = None
    source_format: str = "text"
    report: ParseReport = field(default_factory=ParseReport)
