"""Dense windows: each chunk's dense side cut into 128-token windows that keep its header."""

import itertools
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError
from tokenizers import Tokenizer

from ingest_svc.chunking import ChunkingConfig
from ingest_svc.dense_windows import WHOLE, chunk_and_window
from ingest_svc.parsing import parse_document
from schemas import ChunkingStrategy, ChunkPayload
from schemas.documents import CONTEXT_SEPARATOR

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
TITLE = "Sea otter recovery and the return of kelp forests"
ABSTRACT = " ".join(
    f"Transect {n} along the coast counted {n * 12} otters and {n * 90} sea urchins per"
    f" hectare in spring {2000 + n}, with kelp cover at {n % 7 + 3} tenths."
    for n in range(40)
)


def payloads(data: bytes, filename: str, tokenizer: Tokenizer, window: int) -> list[ChunkPayload]:
    parsed = parse_document(data, filename)
    chunks, windows = chunk_and_window(
        parsed, tokenizer, ChunkingConfig(), ChunkingStrategy.TOKEN_WINDOW, window
    )
    return [
        ChunkPayload(
            chunk_id=uuid.uuid4(),
            index=c.index,
            text=c.text,
            token_count=c.token_count,
            heading=c.heading,
            dense_windows=list(w.spans),
            window_prefix_chars=w.prefix_chars,
        )
        for c, w in zip(chunks, windows, strict=True)
    ]


def tokens(tokenizer: Tokenizer, text: str) -> int:
    return len(tokenizer.encode(text, add_special_tokens=True).ids)


def test_a_long_chunk_is_cut_into_windows_that_fit_and_keep_the_header(
    tokenizer: Tokenizer,
) -> None:
    chunks = payloads(f"{TITLE}\n\n{ABSTRACT}\n".encode(), "4983.txt", tokenizer, 128)
    assert len(chunks) >= 3
    for chunk in chunks:
        if tokens(tokenizer, chunk.text) <= 128:
            assert chunk.dense_windows == []
            continue
        texts = chunk.window_texts()
        assert len(texts) >= 2
        header = chunk.text[: chunk.window_prefix_chars]
        assert header == TITLE + CONTEXT_SEPARATOR
        assert all(t.startswith(header) and tokens(tokenizer, t) <= 128 for t in texts)
        spans = chunk.dense_windows
        # the windows cover the passage, in order, each overlapping or touching the next
        assert spans[0][0] == len(header)
        assert spans[-1][1] == len(chunk.text.rstrip())
        assert all(a[0] < b[0] <= a[1] + 1 for a, b in itertools.pairwise(spans))


def test_short_chunks_and_windows_off_embed_the_chunk_whole(tokenizer: Tokenizer) -> None:
    short = payloads(b"Otters hold hands while they sleep.\n", "otters.txt", tokenizer, 128)
    assert [c.window_texts() for c in short] == [[short[0].text]]
    off = payloads(f"{TITLE}\n\n{ABSTRACT}\n".encode(), "4983.txt", tokenizer, 0)
    assert all(c.dense_windows == [] and c.window_prefix_chars == 0 for c in off)
    assert WHOLE.spans == ()


def test_markdown_sections_window_with_their_heading_path(tokenizer: Tokenizer) -> None:
    path = CORPUS / "nodejs-api" / "child_process.md"
    chunks = payloads(path.read_bytes(), path.name, tokenizer, 128)
    windowed = [c for c in chunks if c.dense_windows]
    assert len(windowed) > len(chunks) // 2
    sizes = []
    for chunk in windowed:
        prefix = chunk.text[: chunk.window_prefix_chars]
        assert not prefix or prefix.endswith(CONTEXT_SEPARATOR)
        mine = [tokens(tokenizer, t) for t in chunk.window_texts()]
        # a window whose exact count lost the header in the chunker gets it back:
        # over 128 by at most the header, far within the model's 256
        header = len(tokenizer.encode(prefix, add_special_tokens=False).ids)
        assert max(mine) <= 128 + header, (mine, header)
        sizes += mine
    assert sum(size <= 128 for size in sizes) >= 0.9 * len(sizes)


@pytest.mark.parametrize(
    ("windows", "prefix", "named"),
    [([(0, 99)], 0, "dense window [0, 99)"), ([(3, 3)], 0, "[3, 3)"), ([], 50, "50")],
)
def test_a_window_outside_the_text_is_refused_by_name(
    windows: list[tuple[int, int]], prefix: int, named: str
) -> None:
    with pytest.raises(ValidationError, match=named.replace("[", r"\[").replace(")", r"\)")):
        ChunkPayload(
            chunk_id=uuid.uuid4(),
            index=0,
            text="short text",
            token_count=2,
            dense_windows=windows,
            window_prefix_chars=prefix,
        )


def test_window_texts_put_the_prefix_before_each_span() -> None:
    chunk = ChunkPayload(
        chunk_id=uuid.uuid4(),
        index=0,
        text="Title\n\nalpha beta gamma",
        token_count=5,
        dense_windows=[(7, 17), (13, 23)],
        window_prefix_chars=7,
    )
    assert chunk.window_texts() == ["Title\n\nalpha beta", "Title\n\nbeta gamma"]
