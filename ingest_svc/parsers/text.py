"""Decoding bytes to text, and plain-text documents.

UTF-8 (with or without BOM) is tried first: it is the common case, is exact, and
costs one pass. Anything else goes to charset-normalizer, with one correction:
on short Western European text its mess ratio cannot tell windows-1252 from
windows-1250/1257 (measured: cp1252 ``"coûte très"`` ranked as cp1257
``"coūte trčs"``), so, like the WHATWG default for unlabelled legacy text,
cp1252 wins whenever it is a candidate no messier than the best by
:data:`CP1252_TOLERANCE`.

Text that decodes but is full of control characters is binary that happens to
fit some code page; it is refused with :class:`~ragbus.errors.DocumentParseError`.
"""

from __future__ import annotations

import re

from charset_normalizer import from_bytes

from ingest_svc.parsers.parsed import ParsedDocument, Section
from ragbus.errors import DocumentParseError

#: Extra mess ratio (0-1, charset-normalizer's ``chaos``) cp1252 may have over the
#: best candidate and still win. Measured on French samples: 0.098 for a paragraph,
#: 0.143 for one short line repeated three times; 0.2 covers both.
CP1252_TOLERANCE = 0.2

#: Largest share of C0/DEL control characters (other than tab, newline, form feed,
#: carriage return) and U+FFFD a text may hold. Random bytes decoded as Latin-1 give
#: 29/256 = 11%; a log with one ANSI colour pair per 46-character line gives 4%.
MAX_CONTROL_FRACTION = 0.05

#: Bytes looked at when sniffing whether an unknown file type is text.
SNIFF_BYTES = 64 * 1024

#: Longest title taken from a first line, in characters.
MAX_TITLE_CHARS = 200

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")


def decode_text(data: bytes, filename: str) -> str:
    """Decode document bytes to text with normalised newlines.

    Args:
        data: Raw bytes of a text-like document (plain text, Markdown).
        filename: Name used in error messages.

    Returns:
        The decoded text, BOM removed, ``\\r\\n`` and ``\\r`` turned into ``\\n``.

    Raises:
        DocumentParseError: The bytes are binary (NUL bytes, no encoding fits, or
            more than :data:`MAX_CONTROL_FRACTION` control characters).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = _decode_legacy(data, filename)
    else:
        if "\x00" in text:  # maybe UTF-16 without BOM; let the detector decide
            text = _decode_legacy(data, filename)
    if "\x00" in text:
        raise DocumentParseError(f"{filename}: binary content (NUL bytes), not text")
    controls = len(_CONTROL.findall(text))
    if text and controls / len(text) > MAX_CONTROL_FRACTION:
        raise DocumentParseError(
            f"{filename}: binary content ({controls / len(text):.0%} control characters), not text"
        )
    return normalize_newlines(text.lstrip("\ufeff"))


def looks_like_text(data: bytes) -> bool:
    """Whether the start of ``data`` decodes as text (for unknown file types).

    Args:
        data: Raw bytes; only the first :data:`SNIFF_BYTES` are examined.

    Returns:
        ``True`` if :func:`decode_text` accepts the sample.
    """
    sample = data[:SNIFF_BYTES]
    if len(data) > SNIFF_BYTES and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n")]  # do not cut a UTF-8 sequence in half
    try:
        return bool(decode_text(sample, "sample").strip())
    except DocumentParseError:
        return False


def normalize_newlines(text: str) -> str:
    """Turn ``\\r\\n`` and lone ``\\r`` into ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def first_line_title(text: str) -> str | None:
    """The first non-blank line, whitespace collapsed, cut to :data:`MAX_TITLE_CHARS`."""
    for line in text[: MAX_TITLE_CHARS * 20].splitlines():
        words = line.split()
        if words:
            title = " ".join(words)
            return title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1] + "…"
    return None


def parse_text(data: bytes, filename: str) -> ParsedDocument:
    """Parse a plain-text document into a single section.

    Args:
        data: Raw bytes in any encoding charset-normalizer recognises.
        filename: Name used in error messages.

    Returns:
        A document whose title is the first line; no sections if it is blank.

    Raises:
        DocumentParseError: The bytes are binary.
    """
    text = decode_text(data, filename)
    sections = [Section(text.strip("\n"), None, ())] if text.strip() else []
    return ParsedDocument(
        title=first_line_title(text),
        parser="charset-normalizer",
        page_count=None,
        sections=sections,
        source_format="text",
    )


def _decode_legacy(data: bytes, filename: str) -> str:
    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise DocumentParseError(f"{filename}: binary content, no text encoding fits")
    for match in matches:
        if "cp1252" in match.could_be_from_charset and (
            match.chaos <= best.chaos + CP1252_TOLERANCE
        ):
            try:
                return data.decode("cp1252")
            except UnicodeDecodeError:  # 0x81, 0x8D, ... are undefined in cp1252
                break
    return str(best)
