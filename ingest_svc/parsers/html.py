"""HTML documents: main content only, as Markdown sections with heading paths.

trafilatura finds the main content and drops navigation chrome (menus, sidebars,
footers, help pop-ups). It writes Markdown, so headings become heading paths
through :func:`~ingest_svc.parsers.markdown.markdown_sections` exactly as for a
Markdown upload.

One adjustment before extraction: trafilatura treats ``<figure>`` as an image and
drops it, but documentation sites (mdBook, Sphinx) wrap code listings in
``<figure>``; the Rust book chapter on ownership lost 5 of its 15 code blocks.
Figures that hold a ``<pre>`` are therefore turned into plain ``<div>`` blocks,
and their captions into paragraphs, first.

If trafilatura finds no main content (very short pages, fragments), the whole
page text from ``trafilatura.html2txt`` is used instead, as one section.
"""

from __future__ import annotations

import re

import trafilatura
from lxml.html import HtmlElement

from ingest_svc.parsers.markdown import markdown_sections
from ingest_svc.parsers.parsed import ParsedDocument, Section
from ingest_svc.parsers.text import normalize_newlines
from ragbus.errors import DocumentParseError

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


def parse_html(data: bytes, filename: str) -> ParsedDocument:
    """Parse an HTML page.

    Args:
        data: Raw HTML bytes; the charset is taken from the page or detected.
        filename: Name used in error messages.

    Returns:
        A document with title from ``<title>`` (else trafilatura's metadata, else
        the first heading), ``language`` from ``<html lang>``, parser
        ``"trafilatura"`` (or ``"trafilatura-html2txt"`` for the fallback).

    Raises:
        DocumentParseError: lxml cannot build a tree from the bytes.
    """
    tree = trafilatura.load_html(data)
    if tree is None:
        raise DocumentParseError(f"{filename}: not parseable as HTML")
    title = _title(tree)
    language = _language(tree)
    _keep_code_figures(tree)
    markdown = trafilatura.extract(
        tree,
        output_format="markdown",
        include_formatting=True,
        include_tables=True,
        include_comments=False,
        favor_recall=True,
    )
    parser = "trafilatura"
    if markdown and markdown.strip():
        heading_title, sections = markdown_sections(normalize_newlines(markdown))
    else:
        parser = "trafilatura-html2txt"
        text = normalize_newlines(trafilatura.html2txt(data)).strip()
        heading_title, sections = None, [Section(text, None, ())] if text else []
    return ParsedDocument(
        title=title or heading_title,
        parser=parser,
        page_count=None,
        sections=sections,
        language=language,
        source_format="html",
    )


def _title(tree: HtmlElement) -> str | None:
    title = " ".join((tree.findtext(".//head/title") or "").split())
    if not title:
        metadata = trafilatura.extract_metadata(tree)
        title = (metadata.title or "").strip() if metadata is not None else ""
    return title or None


def _language(tree: HtmlElement) -> str | None:
    root = tree.getroottree().getroot()
    lang = (root.get("lang") or root.get(_XML_LANG) or "").strip()
    return lang if _LANGUAGE_TAG.fullmatch(lang) else None


def _keep_code_figures(tree: HtmlElement) -> None:
    """Turn ``<figure>`` elements holding ``<pre>`` into ``<div>`` (in place)."""
    for figure in list(tree.iter("figure")):
        if figure.find(".//pre") is None:
            continue
        figure.tag = "div"
        for caption in figure.iter("figcaption"):
            caption.tag = "p"
