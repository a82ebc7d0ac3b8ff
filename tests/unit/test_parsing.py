"""Parsing of uploads: format detection, the real corpus, and bad inputs made here."""

import io
import random
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter

from ingest_svc.parsing import ParsedDocument, Section, detect_format, parse_document
from ragbus.errors import (
    DocumentParseError,
    DocumentTooLargeError,
    EmptyDocumentError,
    UnsupportedDocumentError,
)

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
CHILD_PROCESS = CORPUS / "nodejs-api" / "child_process.md"
LIBTASN1 = CORPUS / "pdf" / "libtasn1.pdf"
MIME_SPEC = CORPUS / "pdf" / "shared-mime-info-spec.pdf"
OWNERSHIP = CORPUS / "html" / "ch04-01-what-is-ownership.html"
# Text of mdBook's help pop-up, menu bar, theme list, search box and page arrows.
MDBOOK_CHROME = (
    "Keyboard shortcuts",
    "navigate between chapters",
    "Toggle Table of Contents",
    "Search this book",
    "Previous chapter",
    "Ayu",
)


def joined(doc: ParsedDocument) -> str:
    return "\n\n".join(section.text for section in doc.sections)


def encrypted(pdf: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_bytes(**files: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


# --- format detection ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "expected"),
    [
        (b"# Title", "notes.md", None, "markdown"),
        (b"# Title", "notes.MARKDOWN", None, "markdown"),
        (b"<p>x</p>", "page.htm", None, "html"),
        (b"hello", "a.txt", "application/octet-stream", "text"),
        (b"# Title", "upload", "text/markdown; charset=utf-8", "markdown"),
        (b"<p>x</p>", "upload", "text/html", "html"),
        (b"def f():\n    return 1\n", "script.py", None, "text"),
        (b"just notes", "README", None, "text"),
        (b"<!DOCTYPE html><html><body>x</body></html>", "page", None, "html"),
        (b"%PDF-1.7 rest", "report.txt", "text/plain", "pdf"),
        (b"junk\n%PDF-1.4 rest", "download", None, "pdf"),
        (b"The header is %PDF-1.7, see below.", "about-pdf.txt", None, "text"),
        (zip_bytes(**{"word/document.xml": "<w/>"}), "report.bin", None, "docx"),
    ],
)
def test_detect_format(data: bytes, filename: str, content_type: str | None, expected: str) -> None:
    assert detect_format(data, filename, content_type) == expected


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "named_type"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)) * 8, "setup.exe", None, "setup.exe"),
        (zip_bytes(**{"a.txt": "hello"}), "archive.zip", None, "ZIP archive"),
        (zip_bytes(**{"a.txt": "hello"}), "archive.txt", None, "ZIP archive"),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "image.png", None, "image/png"),
        (b"looks like text", "blob", "image/png", "image/png"),
        (random.Random(1).randbytes(4096), "data.bin", None, "data.bin"),
    ],
)
def test_unsupported_types_name_the_file_and_type(
    data: bytes, filename: str, content_type: str | None, named_type: str
) -> None:
    with pytest.raises(UnsupportedDocumentError) as caught:
        parse_document(data, filename, content_type)
    assert filename in str(caught.value)
    assert named_type in str(caught.value)
    assert caught.value.code == "unsupported_type"


# --- Markdown -------------------------------------------------------------------


def test_markdown_corpus_heading_paths() -> None:
    doc = parse_document(CHILD_PROCESS.read_bytes(), CHILD_PROCESS.name)
    assert (doc.parser, doc.title, doc.page_count) == ("markdown-it", "Child process", None)
    paths = {section.heading for section in doc.sections}
    assert ("Child process", "Asynchronous process creation") in paths
    spawn = (
        "Child process",
        "Asynchronous process creation",
        "child_process.spawn(command[, args][, options])",
    )
    assert spawn in paths
    assert all(section.page is None for section in doc.sections)
    spawn_section = next(s for s in doc.sections if s.heading == spawn)
    assert spawn_section.text.startswith("### `child_process.spawn(command[, args][, options])`")


def test_markdown_drops_link_reference_definitions() -> None:
    raw = CHILD_PROCESS.read_text()
    definition = next(line for line in raw.splitlines() if line.startswith("[`ChildProcess`]:"))
    text = joined(parse_document(CHILD_PROCESS.read_bytes(), CHILD_PROCESS.name))
    assert definition not in text
    assert "[`ChildProcess`][]" in text  # the references themselves stay


def test_markdown_heading_kinds() -> None:
    source = (
        "---\ntitle: front matter\n---\n"
        "Intro text.\n\n"
        "Main Title\n==========\n\n"
        "```python\n# not a heading\n```\n\n"
        "## Sub *emphasis* and `code`\n\ntext\n\n"
        "Setext Two\n----------\n\nmore\n\n"
        "- ## heading in a list item\n"
    )
    doc = parse_document(source.encode(), "doc.md")
    assert doc.title == "Main Title"
    assert [s.heading for s in doc.sections] == [
        (),
        ("Main Title",),
        ("Main Title", "Sub emphasis and code"),
        ("Main Title", "Setext Two"),
    ]
    assert "front matter" not in joined(doc)
    assert "# not a heading" in doc.sections[1].text
    assert doc.sections[2].text == "## Sub *emphasis* and `code`\ntext"  # heading on its text


# --- HTML -----------------------------------------------------------------------


def test_html_corpus_main_content_only() -> None:
    doc = parse_document(OWNERSHIP.read_bytes(), OWNERSHIP.name, "text/html")
    assert doc.parser == "trafilatura"
    assert doc.title == "What is Ownership? - The Rust Programming Language"
    assert doc.language == "en"
    text = joined(doc)
    assert "*Ownership* is a set of rules that govern how a Rust program manages memory." in text
    assert "fn takes_ownership(some_string: String)" in text  # listing inside <figure>
    for chrome in MDBOOK_CHROME:
        assert chrome not in text
    paths = {section.heading for section in doc.sections}
    assert ("What Is Ownership?", "Memory and Allocation", "Scope and Assignment") in paths


def test_html_fallback_when_no_main_content(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ingest_svc.parsers.html.trafilatura.extract", lambda *a, **k: None)
    html = b"<html><head><title>T</title></head><body><p>Only a line.</p></body></html>"
    doc = parse_document(html, "page.html")
    assert (doc.parser, doc.title) == ("trafilatura-html2txt", "T")
    assert doc.sections == [Section("Only a line.", None, ())]


def test_html_without_text_is_empty() -> None:
    with pytest.raises(EmptyDocumentError):
        parse_document(b"<html><head><title>T</title></head><body></body></html>", "a.html")


# --- PDF ------------------------------------------------------------------------


def test_pdf_corpus_pages_and_outline_headings() -> None:
    doc = parse_document(LIBTASN1.read_bytes(), LIBTASN1.name)
    assert (doc.parser, doc.page_count, doc.title) == ("pypdf", 36, "Libtasn1")
    pages = [section.page or 0 for section in doc.sections]
    assert pages == sorted(pages)
    assert set(pages) <= set(range(1, 37))  # no None (0)
    assert max(pages) > 30
    naming = next(s for s in doc.sections if s.heading[-1:] == ("Naming",))
    assert naming.page == 6
    assert naming.heading == ("2 ASN.1 structure handling", "Naming")
    assert naming.text.startswith("2.2 Naming")


def test_pdf_corpus_running_headers_removed() -> None:
    doc = parse_document(MIME_SPEC.read_bytes(), MIME_SPEC.name)
    assert (doc.page_count, doc.title) == (17, "Shared MIME-info Database")
    assert doc.sections[0].text.startswith("Shared MIME-info Database")  # title page keeps it
    later = [s for s in doc.sections if s.page and s.page > 1]
    assert later
    assert not any(s.text.startswith("Shared MIME-info Database") for s in later)


def test_encrypted_pdf_is_refused() -> None:
    with pytest.raises(DocumentParseError, match=r"^encrypted PDF"):
        parse_document(encrypted(MIME_SPEC.read_bytes(), "secret"), "locked.pdf")


def test_pdf_with_only_owner_password_is_read() -> None:
    doc = parse_document(encrypted(MIME_SPEC.read_bytes(), ""), "restricted.pdf")
    assert doc.page_count == 17


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\nnot really a pdf", b"hello, not a pdf", LIBTASN1.read_bytes()[:4000]],
    ids=["garbage", "no-header", "truncated"],
)
def test_corrupt_pdf(data: bytes) -> None:
    with pytest.raises(DocumentParseError, match="corrupt PDF"):
        parse_document(data, "broken.pdf")


def test_pdf_named_as_text_is_parsed_as_pdf() -> None:
    for name in ("report.txt", "report.md"):
        doc = parse_document(MIME_SPEC.read_bytes(), name, "text/plain")
        assert (doc.parser, doc.page_count) == ("pypdf", 17)


def test_pdf_without_text_is_empty() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(EmptyDocumentError):
        parse_document(out.getvalue(), "scan.pdf")


# --- plain text and bad bytes -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Le café coûte 3 € — « très cher », dit-il. Naïve façade, déjà vu.\n", "cp1252"),
        ("Der Bär läuft über die Straße. Schön, sagt er.\n", "latin-1"),
        ("Zürich, señor, smörgåsbord.\n", "utf-8-sig"),
        ("UTF-16 with a BOM: naïve.\n", "utf-16"),
    ],
)
def test_text_encodings_decoded(text: str, encoding: str) -> None:
    doc = parse_document(text.encode(encoding), "note.txt")
    assert doc.parser == "charset-normalizer"
    assert doc.sections == [Section(text.strip(), None, ())]
    assert doc.title == text.strip()


def test_crlf_normalised() -> None:
    doc = parse_document(b"line one\r\nline two\rline three", "a.txt")
    assert doc.sections[0].text == "line one\nline two\nline three"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (random.Random(0).randbytes(8192), "binary content"),
        (b"text with NUL\x00 bytes " * 50, "NUL bytes"),
        (bytes(range(1, 9)) * 100 + b"some letters", "control characters"),
    ],
    ids=["random", "nul", "controls"],
)
def test_binary_named_txt(data: bytes, problem: str) -> None:
    with pytest.raises(DocumentParseError, match=problem) as caught:
        parse_document(data, "notes.txt")
    assert "notes.txt" in str(caught.value)


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n  "], ids=["empty", "whitespace"])
def test_empty(data: bytes) -> None:
    for name in ("a.txt", "a.md", "a.pdf", "a.html"):
        with pytest.raises(EmptyDocumentError):
            parse_document(data, name)


def test_too_large() -> None:
    with pytest.raises(DocumentTooLargeError, match="limit is 10 bytes"):
        parse_document(b"x" * 11, "a.txt", max_bytes=10)
    assert parse_document(b"x" * 10, "a.txt", max_bytes=10).sections


# --- DOCX -----------------------------------------------------------------------


def test_docx_headings_lists_and_tables() -> None:
    document = docx.Document()
    document.add_heading("Quarterly Report", 0)
    document.add_heading("Intro", 1)
    document.add_paragraph("Some intro text.")
    document.add_heading("Details", 2)
    document.add_paragraph("# a paragraph, not a heading")
    document.add_paragraph("first item", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for (row, col), value in {(0, 0): "key", (0, 1): "value", (1, 0): "a", (1, 1): "1"}.items():
        table.cell(row, col).text = value
    out = io.BytesIO()
    document.save(out)
    doc = parse_document(out.getvalue(), "report.docx")
    assert (doc.parser, doc.title) == ("python-docx", "Quarterly Report")
    assert [s.heading for s in doc.sections] == [(), ("Intro",), ("Intro", "Details")]
    details = doc.sections[-1].text
    assert "\\# a paragraph, not a heading" in details
    assert "- first item" in details
    assert "| key | value |" in details


def test_corrupt_docx() -> None:
    with pytest.raises(DocumentParseError, match="corrupt DOCX"):
        parse_document(b"PK\x03\x04 not really a zip", "report.docx")


def _docx_with_document_xml(xml: bytes) -> bytes:
    """A minimal DOCX package whose word/document.xml is ``xml``, deflated."""
    buffer = io.BytesIO()
    source = io.BytesIO()
    docx.Document().save(source)
    with (
        zipfile.ZipFile(source) as original,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bomb,
    ):
        for item in original.infolist():
            data = xml if item.filename == "word/document.xml" else original.read(item)
            bomb.writestr(item.filename, data)
    return buffer.getvalue()


def test_docx_zip_bomb_of_many_small_paragraphs_is_refused_before_inflating() -> None:
    paragraph = b"<w:p><w:r><w:t>aaaaaaaaaaaaaaaa</w:t></w:r></w:p>"
    xml = b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    xml += paragraph * 200_000 + b"</w:body></w:document>"  # ~10 MB, compresses ~500x
    data = _docx_with_document_xml(xml)
    assert len(data) < 200_000
    with pytest.raises(DocumentParseError, match="over the 100x decompression limit") as err:
        parse_document(data, "bomb.docx")
    assert err.value.code == "decompression_limit"


def test_short_repeated_cp1252_line_keeps_its_accents() -> None:
    text = "Le café coûte très cher à Noël, déjà.\n" * 3
    doc = parse_document(text.encode("cp1252"), "note.txt")
    assert "coûte très cher à Noël" in joined(doc)
