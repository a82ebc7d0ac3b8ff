"""BEIR ``corpus.jsonl`` lines as ragbus documents."""

import json
import re
from pathlib import Path

import pytest

from ragbus_tools.beir import BeirFormatError, is_beir_corpus, parse_line, read_corpus

pytestmark = pytest.mark.unit


def line(**row: object) -> str:
    return json.dumps(row)


def test_line_becomes_txt_named_by_id_with_title_and_text_joined() -> None:
    doc = parse_line(line(_id="4983", title="A title.", text="The text.", metadata={}), 1)
    assert doc.filename == "4983.txt"
    assert doc.content == "A title.\n\nThe text."
    assert doc.metadata == {"beir_id": "4983"}


def test_empty_title_leaves_just_the_text_and_ids_are_made_file_safe() -> None:
    doc = parse_line(line(_id="a/b c", title="", text="Only text."), 1)
    assert doc.content == "Only text."
    assert doc.filename == "a_b_c.txt" and doc.metadata == {"beir_id": "a/b c"}


def test_integer_ids_are_accepted_as_strings() -> None:
    assert parse_line(line(_id=7, title="T", text="x"), 1).beir_id == "7"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"_id": "1", "title": "T"', "not valid JSON"),
        ('["1", "T", "x"]', "expected a JSON object"),
        (line(title="T", text="x"), "missing or empty _id"),
        (line(_id=" ", title="T", text="x"), "missing or empty _id"),
        (line(_id="1", title=["T"], text="x"), "title and text must be strings"),
        (line(_id="1", title=" ", text=""), "_id 1 has neither title nor text"),
    ],
)
def test_malformed_line_names_its_number(raw: str, reason: str) -> None:
    with pytest.raises(BeirFormatError, match=f"^corpus line 12: {re.escape(reason)}"):
        parse_line(raw, 12)


def test_read_corpus_skips_blank_lines_honours_limit_and_names_bad_lines(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    rows = [line(_id=str(i), title=f"T{i}", text=f"text {i}") for i in range(3)]
    corpus.write_text("\n".join([rows[0], "", rows[1], rows[2], "not json"]) + "\n")
    assert is_beir_corpus(corpus) and not is_beir_corpus(tmp_path)
    assert [d.beir_id for d in read_corpus(corpus, limit=2)] == ["0", "1"]
    with pytest.raises(BeirFormatError, match=r"^corpus\.jsonl line 5: not valid JSON"):
        read_corpus(corpus)


def test_scifact_corpus_reads(shared_dir: Path) -> None:
    corpus = shared_dir / "datasets" / "scifact" / "corpus.jsonl"
    if not corpus.exists():
        pytest.skip(f"{corpus} is not there")
    docs = read_corpus(corpus, limit=5)
    assert len(docs) == 5 and all(d.content and d.filename.endswith(".txt") for d in docs)
