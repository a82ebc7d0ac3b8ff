"""``ingest_svc.token_windows``: cuts chosen from one tokenizer pass's offsets."""

from itertools import pairwise
from pathlib import Path

import pytest
from semantic_text_splitter import TextSplitter
from tokenizers import Tokenizer

from ingest_svc.chunking_strategies import pages
from ingest_svc.parsers.parsed import Section
from ingest_svc.token_windows import (
    INSIDE_WORD,
    LINE,
    PARAGRAPH,
    PUNCTUATION,
    SECTION,
    SENTENCE,
    SPACE,
    boundary_kinds,
    cuts,
    token_windows,
)

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def kinds_of(tokenizer: Tokenizer, text: str) -> list[tuple[str, int]]:
    encoding = tokenizer.encode(text, add_special_tokens=False)
    return list(zip(encoding.tokens, boundary_kinds(text, encoding.offsets), strict=True))


def test_each_boundary_gets_its_kind(tokenizer: Tokenizer) -> None:
    text = 'One two, embeddings. "Quoted!" Next\nline\n\npara\n\n\nsection'
    assert kinds_of(tokenizer, text) == [
        ("one", SECTION),
        ("two", SPACE),
        (",", PUNCTUATION),
        ("em", SPACE),
        ("##bed", INSIDE_WORD),
        ("##ding", INSIDE_WORD),
        ("##s", INSIDE_WORD),
        (".", PUNCTUATION),
        ('"', SENTENCE),  # after "embeddings."
        ("quoted", PUNCTUATION),
        ("!", PUNCTUATION),
        ('"', PUNCTUATION),
        ("next", SENTENCE),  # after '!"': a closing quote is looked through
        ("line", LINE),
        ("para", PARAGRAPH),
        ("section", SECTION),
    ]


def test_chunks_fill_up_to_the_coarsest_boundary_and_overlap_as_coarsely(
    tokenizer: Tokenizer,
) -> None:
    text = " ".join(f"Fact {n}: the value of item {n} is {n * 3}." for n in range(60))
    encoding = tokenizer.encode(text, add_special_tokens=False)
    found = cuts(text, encoding.offsets, 64, 16)
    assert len(found) > 5
    for previous, current in pairwise(found):
        assert current.tokens <= 64
        assert text[previous.stop - 1] == "."  # cut at a sentence end
        assert text[current.start : current.start + 5] == "Fact "  # starts a sentence
        assert previous.end - 16 <= current.first < previous.end  # shares < 16 tokens
        assert current.end > previous.end  # never only the overlap
    assert found[-1].end == len(encoding.offsets)


def test_a_cut_at_a_paragraph_end_repeats_nothing_but_whole_paragraphs(
    tokenizer: Tokenizer,
) -> None:
    paragraphs = [" ".join(["word"] * 30) + "." for _ in range(6)]
    text = "\n\n".join(paragraphs)
    encoding = tokenizer.encode(text, add_special_tokens=False)
    found = cuts(text, encoding.offsets, 70, 20)
    assert [text[c.start : c.stop].count("\n\n") for c in found] == [1, 1, 1]
    assert all(a.end == b.first for a, b in pairwise(found))  # no overlap


def test_a_word_longer_than_a_chunk_is_cut_inside(tokenizer: Tokenizer) -> None:
    text = "start " + "x" * 5 + "y" * 4000 + " end"
    encoding = tokenizer.encode(text, add_special_tokens=False)
    found = cuts(text, encoding.offsets, 8, 2)
    assert max(c.tokens for c in found) <= 8
    assert found[0].first == 0 and found[-1].end == len(encoding.offsets)


def test_windows_cover_the_page_in_order_and_head_by_their_start(tokenizer: Tokenizer) -> None:
    sections = [
        Section(f"Part {n} says a sentence. " * 40, None, ("Doc", f"Part {n}")) for n in range(3)
    ]
    (page,) = pages(sections)
    pieces = token_windows(page, tokenizer, 100, 16)
    assert len(pieces) > 3
    for piece in pieces:
        assert piece.text in page.text
        assert piece.tokens == len(tokenizer.encode(piece.text, add_special_tokens=False).ids)
        part = int(piece.text.split()[1])
        assert piece.heading == ("Doc", f"Part {part}")


def test_nearly_every_chunk_is_the_one_semantic_text_splitter_made(tokenizer: Tokenizer) -> None:
    """The rule is the splitter's: on a real document the chunks barely differ."""
    text = (CORPUS / "nodejs-api" / "child_process.md").read_text()
    splitter = TextSplitter.from_huggingface_tokenizer(tokenizer, 230, overlap=32)
    old = {chunk.strip() for chunk in splitter.chunks(text)}
    encoding = tokenizer.encode(text, add_special_tokens=False)
    new = [text[c.start : c.stop] for c in cuts(text, encoding.offsets, 230, 32)]
    assert abs(len(new) - len(old)) <= len(old) // 20
    assert sum(chunk in old for chunk in new) >= 0.9 * len(new)
