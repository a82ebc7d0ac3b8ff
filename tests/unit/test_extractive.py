"""ExtractiveAnswerer with the hashing FakeEmbedder: word overlap drives the choice."""

import uuid
from collections.abc import Sequence

import pytest

from generate_svc.app import build_answerer
from generate_svc.extractive import ExtractiveAnswerer
from generate_svc.prompts import NOT_FOUND_ANSWER
from generate_svc.sentences import looks_like_code, prose_blocks, split_sentences
from generate_svc.settings import GenerateSettings
from ragbus.embedding import FakeEmbedder
from ragbus.embedding.base import Vectors
from schemas.queries import Passage

pytestmark = pytest.mark.unit

QUESTION = "How do I spawn a child process and read its output?"
# Fake-embedder cosines: ~0.35 or more for sentences sharing several question words,
# ~0.1 or less for unrelated ones.
MIN_SCORE = 0.3


def passage(n: int, text: str, score: float = 0.5) -> Passage:
    return Passage(
        chunk_id=uuid.uuid5(uuid.NAMESPACE_URL, f"chunk-{n}"),
        document_id=uuid.uuid5(uuid.NAMESPACE_URL, f"doc-{n}"),
        filename=f"doc{n}.md",
        text=text,
        score=score,
    )


class CountingEmbedder(FakeEmbedder):
    """FakeEmbedder that records how many batches it embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        self.batches.append(len(texts))
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> Vectors:
        return super().embed_documents([text])[0]  # not counted as a batch


async def answer(answerer: ExtractiveAnswerer, passages: list[Passage]) -> list[str]:
    return [delta async for delta in answerer.stream(QUESTION, passages)]


PASSAGES = [
    passage(1, "Bread is baked in a hot oven for an hour. Flour and water make the dough."),
    passage(
        2,
        "Timers schedule functions to run later. "
        "The spawn function starts a child process. "
        "Use spawn to start a child process and read its output from stdout.",
    ),
    passage(3, "Cats sleep for most of the day in warm places."),
]


async def test_quotes_overlapping_sentences_in_document_order_with_their_marker() -> None:
    answerer = ExtractiveAnswerer(FakeEmbedder(), min_score=MIN_SCORE)

    deltas = await answer(answerer, PASSAGES)

    assert deltas == [
        "The spawn function starts a child process. [2]",
        " Use spawn to start a child process and read its output from stdout. [2]",
    ]


async def test_passages_are_ordered_by_rank_then_position() -> None:
    passages = [
        passage(1, "You spawn a child process with spawn."),
        passage(2, "Use spawn to start a child process and read its output from stdout."),
    ]
    answerer = ExtractiveAnswerer(FakeEmbedder(), min_score=MIN_SCORE)

    text = "".join(await answer(answerer, passages))

    # the better sentence is in passage 2, but passage 1 comes first in the answer
    assert text == (
        "You spawn a child process with spawn. [1] "
        "Use spawn to start a child process and read its output from stdout. [2]"
    )


async def test_max_sentences_keeps_the_best() -> None:
    answerer = ExtractiveAnswerer(FakeEmbedder(), min_score=MIN_SCORE, max_sentences=1)

    deltas = await answer(answerer, PASSAGES)

    assert deltas == ["Use spawn to start a child process and read its output from stdout. [2]"]


async def test_nothing_above_min_score_is_not_found() -> None:
    answerer = ExtractiveAnswerer(FakeEmbedder(), min_score=0.99)

    assert await answer(answerer, PASSAGES) == [NOT_FOUND_ANSWER]


async def test_no_passages_is_not_found_without_embedding() -> None:
    embedder = CountingEmbedder()
    answerer = ExtractiveAnswerer(embedder, min_score=MIN_SCORE)

    assert await answer(answerer, []) == [NOT_FOUND_ANSWER]
    assert embedder.batches == []


async def test_sentences_are_embedded_in_one_batch_and_duplicates_once() -> None:
    embedder = CountingEmbedder()
    answerer = ExtractiveAnswerer(embedder, min_score=MIN_SCORE)
    repeated = PASSAGES[1].text
    passages = [passage(1, repeated), passage(2, repeated)]

    text = "".join(await answer(answerer, passages))

    assert embedder.batches == [3]
    assert "[2]" not in text  # the overlap is quoted from the better-ranked passage only


def test_max_passages_bounds_the_work() -> None:
    answerer = ExtractiveAnswerer(FakeEmbedder(), max_passages=1)

    assert {c.n for c in answerer.candidates(QUESTION, PASSAGES)} == {1}


def test_prose_blocks_drop_code_headings_and_split_lists() -> None:
    text = (
        "# Child process\n\n"
        "The module spawns\nsubprocesses.\n"
        "```js\nconst { spawn } = require('node:child_process');\n```\n"
        "* `exec()`: runs a shell.\n"
        "* `fork()`: runs a Node.js module.\n"
        "| a | b |\n"
        "> Stability: 2 - Stable\n"
        "<!-- comment -->\n"
        "<!-- YAML\nadded: v0.1.90\nchanges:\n  - version: v8.8.0\n-->\n"
        "~~~\nls -lh /usr\n```\nstill code\n~~~\n"
        "After the code.\n"
    )

    assert prose_blocks(text) == [
        "The module spawns subprocesses.",
        "`exec()`: runs a shell.",
        "`fork()`: runs a Node.js module.",
        "Stability: 2 - Stable",
        "After the code.",
    ]


def test_split_sentences_drops_short_fragments() -> None:
    text = "Returns: <Buffer>. The spawned process has its own stdout stream. Ok then."

    assert split_sentences(text) == ["The spawned process has its own stdout stream."]


def test_markdown_links_read_as_their_text() -> None:
    text = (
        "Node.js offers alternatives to [`child_process.spawn()`][] and\n"
        "[`child_process.exec()`][exec], see [the docs](https://nodejs.org/api/(x)) "
        "and ![a diagram](pipes.png), but `arr[0](x)` stays code."
    )

    assert prose_blocks(text) == [
        "Node.js offers alternatives to `child_process.spawn()` and "
        "`child_process.exec()`, see the docs and a diagram, but `arr[0](x)` stays code."
    ]
    assert split_sentences("Use [`spawn()`][] to start [a child](#child) process.") == [
        "Use `spawn()` to start a child process."
    ]


@pytest.mark.parametrize(
    ("sentence", "code"),
    [
        ("The `child_process.spawn()` method spawns the child process asynchronously.", False),
        ("Use [`child_process.exec()`][] to run a command in a shell.", False),
        ("`env` {Object} Environment key-value pairs.", False),
        ("const ls = spawn('ls', ['-lh', '/usr']);", True),
        ("ls.on('close', (code) => { console.log(`exited with code ${code}`); });", True),
        ("</td> </tr> <tr> <td><code>EIO</code></td> <td>An I/O error.", True),
    ],
)
def test_looks_like_code(sentence: str, code: bool) -> None:
    assert looks_like_code(sentence) is code


def test_invalid_limits_are_rejected() -> None:
    with pytest.raises(ValueError):
        ExtractiveAnswerer(FakeEmbedder(), max_sentences=0)


def test_build_answerer_is_extractive_without_llm_model() -> None:
    settings = GenerateSettings(
        llm_model=None, extractive_max_sentences=2, extractive_min_score=0.5
    )

    answerer = build_answerer(settings, FakeEmbedder(), None)

    assert isinstance(answerer, ExtractiveAnswerer)
    assert answerer.model == "extractive"
    assert (answerer.max_sentences, answerer.min_score) == (2, 0.5)


def test_concurrency_and_shortlist_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("RAGBUS_GENERATE_CONCURRENCY", "3")
    monkeypatch.setenv("RAGBUS_EXTRACTIVE_MAX_CANDIDATES", "0")
    settings = GenerateSettings(llm_model=None)

    answerer = build_answerer(settings, FakeEmbedder(), None)

    assert settings.generate_concurrency == 3
    assert isinstance(answerer, ExtractiveAnswerer) and answerer.max_candidates is None
    monkeypatch.setenv("RAGBUS_GENERATE_CONCURRENCY", "0")
    with pytest.raises(ValueError, match="generate_concurrency"):
        GenerateSettings(llm_model=None)
