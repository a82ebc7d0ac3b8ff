"""A document that is only its title is indexed as that title, never as empty."""

import pytest
from tokenizers import Tokenizer

from ingest_svc.chunking import chunk_document
from ingest_svc.parsing import parse_document
from schemas import ChunkingStrategy

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("strategy", list(ChunkingStrategy))
@pytest.mark.parametrize(
    ("name", "data", "text"),
    [
        ("note.txt", b"Sourdough bread is leavened with a starter.\n", "Sourdough bread"),
        ("title.md", b"# Only a title\n", "Only a title"),
    ],
)
def test_a_one_line_document_is_one_chunk_of_that_line(
    tokenizer: Tokenizer, strategy: ChunkingStrategy, name: str, data: bytes, text: str
) -> None:
    chunks = chunk_document(parse_document(data, name), tokenizer, strategy=strategy)
    assert len(chunks) == 1
    (chunk,) = chunks
    assert text in chunk.text and chunk.text.count(text) == 1  # not repeated by a header
    assert chunk.token_count > 0


def test_a_title_line_with_a_body_still_moves_into_the_header(tokenizer: Tokenizer) -> None:
    doc = parse_document(b"# Lighthouse\n\nThe lighthouse flashes every six seconds.\n", "l.md")
    (chunk,) = chunk_document(doc, tokenizer)
    assert chunk.header == "Lighthouse"
    assert chunk.text == "Lighthouse\n\nThe lighthouse flashes every six seconds."
