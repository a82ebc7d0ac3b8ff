"""Turn uploaded bytes into a :class:`ParsedDocument`: format detection and dispatch.

The format is decided by, in order:

1. content: bytes starting with ``%PDF-`` are a PDF whatever the name says
   (for an unknown extension the header may follow up to 1024 bytes of junk, as
   PDF readers allow; a ``.txt`` that merely quotes ``%PDF-`` stays text); a
   ZIP package holding ``word/document.xml`` is DOCX, any other ZIP is refused;
2. the file extension (``.md``, ``.html``, ``.txt``, ``.pdf``, ``.docx``, ``.csv``, ...);
3. the declared content type, ignoring the uninformative
   ``application/octet-stream``;
4. for anything else, a sniff: bytes that decode as text are parsed as plain
   text (or HTML if they start like an HTML page); image, audio, video and font
   types, and bytes that do not decode, are refused.

Parsing is pure: bytes in, text out, no I/O. Errors are permanent
(:mod:`ragbus.errors`): the same bytes would fail the same way on a retry.
"""

from __future__ import annotations

import io
import logging
import mimetypes
import zipfile
from collections.abc import Callable
from pathlib import PurePosixPath

from ingest_svc.parsers.csv import parse_csv
from ingest_svc.parsers.docx import parse_docx
from ingest_svc.parsers.html import parse_html
from ingest_svc.parsers.markdown import parse_markdown
from ingest_svc.parsers.parsed import ParsedDocument, Section
from ingest_svc.parsers.pdf import parse_pdf
from ingest_svc.parsers.text import looks_like_text, parse_text
from ragbus.errors import DocumentTooLargeError, EmptyDocumentError, UnsupportedDocumentError

__all__ = ["ParsedDocument", "Section", "detect_format", "parse_document"]

log = logging.getLogger(__name__)

#: Bytes at the start of a file in which a PDF header may appear (ISO 32000-1, 7.5.2
#: tolerates leading junk; readers look in the first 1024 bytes).
PDF_HEADER_WINDOW = 1024

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

_BY_EXTENSION = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".mkd": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
    ".log": "text",
    ".csv": "csv",
    ".tsv": "csv",
}
_BY_MEDIA_TYPE = {
    "application/pdf": "pdf",
    DOCX_TYPE: "docx",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/csv": "csv",
    "text/tab-separated-values": "csv",
}
_BINARY_MAJOR_TYPES = frozenset({"image", "audio", "video", "font", "model"})
_UNINFORMATIVE_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})

_PARSERS: dict[str, Callable[[bytes, str], ParsedDocument]] = {
    "pdf": parse_pdf,
    "docx": parse_docx,
    "markdown": parse_markdown,
    "html": parse_html,
    "text": parse_text,
    "csv": parse_csv,
}


def detect_format(data: bytes, filename: str, content_type: str | None) -> str:
    """Decide how to parse an upload (see the module docstring for the order).

    Args:
        data: Raw bytes of the upload.
        filename: Upload name; only its extension is used.
        content_type: Declared media type, parameters allowed
            (``"text/html; charset=utf-8"``), or ``None``.

    Returns:
        One of ``"pdf"``, ``"docx"``, ``"markdown"``, ``"html"``, ``"csv"``, ``"text"``.

    Raises:
        UnsupportedDocumentError: The type is known and not a document ragbus
            reads, or unknown and the bytes are not text.
    """
    extension = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared in _UNINFORMATIVE_TYPES:
        declared = ""
    if data.startswith(b"%PDF-") or (
        extension not in _BY_EXTENSION and b"%PDF-" in data[:PDF_HEADER_WINDOW]
    ):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        if _is_docx_package(data) or extension == ".docx" or declared == DOCX_TYPE:
            return "docx"  # a broken package named DOCX fails as a corrupt DOCX
        raise UnsupportedDocumentError(
            f"{filename!r}: unsupported document type (ZIP archive,"
            f" {declared or extension or 'no extension'}); ragbus reads PDF, DOCX,"
            " Markdown, HTML, CSV and plain text"
        )
    if extension in _BY_EXTENSION:
        return _BY_EXTENSION[extension]
    media_type = declared or mimetypes.guess_type(filename)[0] or ""
    if media_type in _BY_MEDIA_TYPE:
        return _BY_MEDIA_TYPE[media_type]
    if media_type.startswith("text/"):
        return "text"
    if media_type.split("/", 1)[0] not in _BINARY_MAJOR_TYPES and looks_like_text(data):
        head = data[:1024].lstrip().lower()
        return "html" if head.startswith((b"<!doctype html", b"<html")) else "text"
    raise UnsupportedDocumentError(
        f"{filename!r}: unsupported document type ({media_type or extension or 'unknown'},"
        " not text); ragbus reads PDF, DOCX, Markdown, HTML, CSV and plain text"
    )


def parse_document(
    data: bytes, filename: str, content_type: str | None = None, *, max_bytes: int | None = None
) -> ParsedDocument:
    """Extract the text of an upload, with locations, for chunking.

    Args:
        data: Raw bytes of the upload.
        filename: Upload name, used for format detection and error messages.
        content_type: Declared media type, or ``None``.
        max_bytes: Refuse larger uploads; ``None`` leaves the limit to the caller.

    Returns:
        The parsed document; it always has at least one non-blank section.

    Raises:
        DocumentTooLargeError: ``len(data)`` exceeds ``max_bytes``.
        EmptyDocumentError: No bytes, only whitespace, or no extractable text.
        UnsupportedDocumentError: Not a format ragbus reads.
        DocumentParseError: Corrupt, encrypted or binary-but-named-as-text input.
    """
    if max_bytes is not None and len(data) > max_bytes:
        raise DocumentTooLargeError(
            f"{filename!r} is {len(data)} bytes; the limit is {max_bytes} bytes"
        )
    if not data.strip():
        raise EmptyDocumentError(f"{filename!r} is empty or only whitespace")
    document_format = detect_format(data, filename, content_type)
    document = _PARSERS[document_format](data, filename)
    if not document.sections:
        raise EmptyDocumentError(f"{filename!r}: no extractable text in this {document_format}")
    log.debug(
        "parsed document",
        extra={
            "filename": filename,
            "format": document_format,
            "parser": document.parser,
            "sections": len(document.sections),
            "pages": document.page_count,
        },
    )
    return document


def _is_docx_package(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            return "word/document.xml" in package.namelist()
    except zipfile.BadZipFile:
        return False
