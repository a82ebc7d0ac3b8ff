"""Chunks that carry their context: the title and heading path in every chunk's text."""

from pathlib import Path

import pytest
from tokenizers import Tokenizer

from ingest_svc.chunking import ChunkingConfig, chunk_document
from ingest_svc.chunking_context import without_title_line
from ingest_svc.parsing import ParsedDocument, Section, parse_document
from schemas import ChunkingStrategy
from schemas.documents import MAX_CONTEXT_CHARS, chunk_context, chunk_passage

pytestmark = pytest.mark.unit

TITLE = "Vitamin D supplementation and fracture risk in older adults"
ABSTRACT = " ".join(
    f"Trial {n} randomised {n * 40} participants to cholecalciferol or placebo and"
    f" followed them for {n % 5 + 1} years, recording {n * 3} hip fractures."
    for n in range(40)
)


def beir_document() -> ParsedDocument:
    """A SciFact-shaped text file: the title, a blank line, a long abstract."""
    return parse_document(f"{TITLE}\n\n{ABSTRACT}\n".encode(), "4983.txt")


@pytest.mark.parametrize("strategy", list(ChunkingStrategy))
def test_every_chunk_starts_with_the_title_and_none_is_the_title_alone(
    tokenizer: Tokenizer, strategy: ChunkingStrategy
) -> None:
    doc = beir_document()
    assert doc.title == TITLE
    chunks = chunk_document(doc, tokenizer, ChunkingConfig(), strategy)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert chunk.header == TITLE
        assert chunk.text == f"{TITLE}\n\n{chunk.passage}"
        assert chunk.passage.startswith("Trial ")  # the title line is the header only
        tokens = len(tokenizer.encode(chunk.text, add_special_tokens=False).ids)
        assert chunk.token_count == tokens <= 254
        assert chunk_passage(chunk.text, TITLE, chunk.heading) == chunk.passage
    # Without the header the title is a chunk of its own (the splitter stops at the
    # blank line after it), and the other chunks never name the title.
    plain = chunk_document(doc, tokenizer, ChunkingConfig(context=False), strategy)
    if strategy == ChunkingStrategy.TOKEN_WINDOW:
        assert plain[0].text == TITLE
    assert all(TITLE not in chunk.text for chunk in plain[1:])


def test_the_passages_still_cover_the_document(tokenizer: Tokenizer) -> None:
    chunks = chunk_document(beir_document(), tokenizer, ChunkingConfig(overlap_tokens=0))
    assert " ".join(chunk.passage for chunk in chunks) == ABSTRACT


def test_heading_paths_join_the_title_once(tokenizer: Tokenizer) -> None:
    path = Path(__file__).resolve().parents[2].parent / "shared/corpus/nodejs-api/child_process.md"
    doc = parse_document(path.read_bytes(), path.name)
    chunks = chunk_document(doc, tokenizer, ChunkingConfig(), ChunkingStrategy.STRUCTURE)
    spawn = next(c for c in chunks if c.heading and c.heading.endswith("options.detached"))
    assert spawn.header == spawn.heading  # the title is the first heading: not repeated
    assert spawn.text.startswith("Child process > Asynchronous process creation > ")
    assert not chunks[0].passage.startswith("# Child process")  # moved into the header


def test_a_header_too_long_for_the_chunk_is_left_out(tokenizer: Tokenizer) -> None:
    title = "a-b-c " * 40  # a header of 200 characters and 150 tokens; the budget is 64
    doc = ParsedDocument(title, "test", None, [Section(ABSTRACT, None, ())])
    chunks = chunk_document(doc, tokenizer)
    header = chunk_context(title, None)
    assert header is not None and len(header) <= MAX_CONTEXT_CHARS
    assert any(c.header is None and c.text == c.passage for c in chunks)
    assert all(c.token_count <= 254 for c in chunks)


def test_chunk_context_dedupes_collapses_and_cuts() -> None:
    assert chunk_context(None, None) is None
    assert chunk_context("  A   title ", None) == "A title"
    assert chunk_context("Guide", "Guide > Install > Linux") == "Guide > Install > Linux"
    assert chunk_context(None, "Install") == "Install"
    long = chunk_context("word " * 100, "Tail")
    assert long is not None and len(long) <= MAX_CONTEXT_CHARS and long.endswith("word…")


def test_chunk_passage_only_strips_its_own_header() -> None:
    assert chunk_passage("T > H\n\nbody", "T", "H") == "body"
    assert chunk_passage("T > H\n\nbody", "T", "Other") == "T > H\n\nbody"
    assert chunk_passage("body", None, None) == "body"
    assert chunk_passage("T\n\n", "T", None) == "T\n\n"  # never an empty passage


def test_only_a_title_line_standing_alone_moves_into_the_header() -> None:
    heading = [Section("# Guide\nIntro text.", None, ("Guide",))]
    assert without_title_line(heading, "Guide") == [Section("Intro text.", None, ("Guide",))]
    paragraph = [Section("Guide\n\nIntro text.", None, ())]
    assert without_title_line(paragraph, "Guide") == [Section("Intro text.", None, ())]
    sentence = [Section("Hello world.\nMore text.", None, ())]  # a first line, not a title
    assert without_title_line(sentence, "Hello world.") == sentence
    alone = [Section("# Guide", None, ("Guide",)), Section("## A\nx", None, ("Guide", "A"))]
    assert without_title_line(alone, "Guide") == alone[1:]
    assert without_title_line(paragraph, None) == paragraph
