"""CSV (and other delimited text): every row becomes a record of ``header: value`` lines.

A row of a spreadsheet export means little without its column names, and a chunk
cut through the middle of a table loses them. So each row is rendered as its own
section::

    name: Ada Lovelace
    born: 1815

and the chunker packs consecutive rows into chunks of whole records. Blank cells
are left out; cells past the header get ``column N`` names. The bytes are decoded
like plain text (:func:`~ingest_svc.parsers.text.decode_text`, so legacy encodings
work), the dialect is sniffed with :class:`csv.Sniffer` among ``,`` ``;`` tab and
``|``, and the first row is the header when the sniffer thinks so (else the
columns are ``column 1``, ``column 2``...).

A file that is not tabular (no delimiter found, or a single column) is still
indexed: each non-blank line becomes a record of its own.
"""

from __future__ import annotations

import csv
import io
import re

from ingest_svc.parsers.parsed import ParsedDocument, Section
from ingest_svc.parsers.text import decode_text
from ragbus.errors import DocumentParseError

_NUMBER = re.compile(r"[-+]?[\d.,\s%$€£]+")

#: Characters of the text the dialect and header are sniffed from.
SNIFF_CHARS = 64 * 1024

#: Delimiters the sniffer may choose; letters or spaces would split prose.
DELIMITERS = ",;\t|"


def parse_csv(data: bytes, filename: str) -> ParsedDocument:
    """Parse delimited text into one section per row.

    Args:
        data: Raw bytes in any encoding :func:`decode_text` recognises.
        filename: Name used in error messages.

    Returns:
        A document with parser ``"csv"`` and no title; no sections if it is blank.

    Raises:
        DocumentParseError: The bytes are binary, or a row is malformed (for
            example a quoted field longer than :func:`csv.field_size_limit`).
    """
    text = decode_text(data, filename)
    rows = _rows(text, filename)
    if rows is None:  # not tabular
        records = [_line_record(line) for line in text.splitlines()]
    else:
        header, body = _split_header(rows, text)
        records = [_record(header, row) for row in body]
    return ParsedDocument(
        title=None,
        parser="csv",
        page_count=None,
        sections=[Section(record, None, ()) for record in records if record],
        source_format="csv",
    )


def _rows(text: str, filename: str) -> list[list[str]] | None:
    """The rows of ``text``, or ``None`` when it does not look like a table."""
    sample = text[:SNIFF_CHARS]
    dialect: type[csv.Dialect] | csv.Dialect
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=DELIMITERS)
        delimiter = dialect.delimiter
    except csv.Error:  # "Could not determine delimiter": ragged rows defeat the sniffer
        # Fall back to Excel's dialect with the delimiter found on most lines.
        dialect = csv.excel
        lines = [line for line in sample.splitlines() if line.strip()]
        delimiter = max(DELIMITERS, key=lambda d: sum(d in line for line in lines))
        if not lines or sum(delimiter in line for line in lines) * 2 < len(lines):
            return None
    reader = csv.reader(io.StringIO(text, newline=""), dialect, delimiter=delimiter)
    try:
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise DocumentParseError(
            f"{filename}: malformed CSV near line {reader.line_num}: {exc}"[:500]
        ) from exc
    if rows and max(len(row) for row in rows) < 2:
        return None
    return rows


def _split_header(rows: list[list[str]], text: str) -> tuple[list[str], list[list[str]]]:
    try:
        sniffed = csv.Sniffer().has_header(text[:SNIFF_CHARS])
    except csv.Error:
        sniffed = False
    if len(rows) < 2 or not (sniffed or _looks_like_header(rows[0])):
        return [], rows
    header = [" ".join(name.split()) for name in rows[0]]
    return header, rows[1:]


def _looks_like_header(row: list[str]) -> bool:
    """Names, not data: every cell filled, none a number, no two alike.

    ``csv.Sniffer.has_header`` only sees a header when some column's type or
    length differs from it, so it misses ``name,note`` above rows of text.
    """
    cells = [" ".join(cell.split()).casefold() for cell in row]
    return (
        all(cells)
        and len(set(cells)) == len(cells)
        and not any(_NUMBER.fullmatch(cell) for cell in cells)
    )


def _line_record(line: str) -> str:
    """A line of a non-tabular file, blank if it holds only delimiters and quotes."""
    return " ".join(line.split()) if line.strip(DELIMITERS + " \"'") else ""


def _record(header: list[str], row: list[str]) -> str:
    lines = []
    for number, cell in enumerate(row, start=1):
        value = " ".join(cell.split())
        if value:
            name = header[number - 1] if number <= len(header) else ""
            lines.append(f"{name or f'column {number}'}: {value}")
    return "\n".join(lines)
