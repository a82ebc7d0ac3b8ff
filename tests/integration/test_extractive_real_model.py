"""ExtractiveAnswerer with the real all-MiniLM-L6-v2 on Node.js docs and unrelated text."""

import uuid
from pathlib import Path

import numpy as np
import pytest

from generate_svc.citations import build_citations
from generate_svc.extractive import DEFAULT_MIN_SCORE, ExtractiveAnswerer
from generate_svc.prompts import NOT_FOUND_ANSWER
from ragbus.embedding import get_embedder
from ragbus.embedding.base import Embedder
from ragbus.settings import InfraSettings
from schemas.embeddings import QuestionEmbedding
from schemas.queries import Passage

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "nodejs-api"
QUESTION = "How do I spawn a child process and read its output?"


def between(text: str, start: str, end: str) -> str:
    begin = text.index(start)
    return text[begin : text.index(end, begin)].strip()


def passage(n: int, filename: str, text: str, score: float) -> Passage:
    return Passage(
        chunk_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{filename}#{n}"),
        document_id=uuid.uuid5(uuid.NAMESPACE_URL, filename),
        filename=filename,
        text=text,
        score=score,
        chunk_index=n,
    )


@pytest.fixture(scope="module")
def passages() -> list[Passage]:
    doc = (CORPUS / "child_process.md").read_text(encoding="utf-8")
    intro = between(doc, "The `node:child_process` module provides", "```mjs")
    pipes = between(doc, "By default, pipes for", "The command lookup")
    bread = (
        "Sourdough bread is leavened with a starter of wild yeast and lactic acid bacteria. "
        "The dough is left to rise slowly for many hours before it is shaped.\n\n"
        "Bake the loaf in a covered pot at a high temperature, then remove the lid so the "
        "crust can brown."
    )
    rivers = (
        "The Danube flows through ten countries before reaching the Black Sea. "
        "Its delta is one of the largest wetlands in Europe and home to many bird species."
    )
    # The Node.js passages are ranked 2 and 3, so a correct answer cites [2] or [3], not [1].
    return [
        passage(1, "baking.md", bread, 0.31),
        passage(2, "child_process.md", intro, 0.30),
        passage(3, "child_process.md", pipes, 0.29),
        passage(4, "rivers.txt", rivers, 0.05),
    ]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    model = get_embedder(InfraSettings())
    model.warm_up()
    return model


async def answer(answerer: ExtractiveAnswerer, question: str, passages: list[Passage]) -> str:
    deltas = [d async for d in answerer.stream(question, passages)]
    assert all(deltas)
    return "".join(deltas)


async def test_answer_quotes_and_cites_the_child_process_passages(embedder, passages) -> None:
    answerer = ExtractiveAnswerer(embedder)

    text = await answer(answerer, QUESTION, passages)

    cited = {c.n for c in build_citations(text, passages)}
    assert cited and cited <= {2, 3}, text
    assert "spawn" in text
    assert NOT_FOUND_ANSWER not in text


async def test_relevant_sentences_clear_the_threshold_and_unrelated_ones_do_not(
    embedder, passages
) -> None:
    # every sentence scored (no lexical shortlist): the threshold's calibration
    scored = ExtractiveAnswerer(embedder, max_candidates=None).candidates(QUESTION, passages)

    best = {n: max(c.cosine for c in scored if c.n == n) for n in (1, 2, 3, 4)}
    assert best[2] >= DEFAULT_MIN_SCORE + 0.1, best
    assert max(best[1], best[4]) < DEFAULT_MIN_SCORE - 0.1, best


@pytest.mark.parametrize(
    "question",
    [
        "purple elephant quantum banana skateboard",
        "Who painted the Mona Lisa?",
        "How many moons does Jupiter have?",
    ],
)
async def test_unrelated_question_is_not_found(embedder, passages, question) -> None:
    answerer = ExtractiveAnswerer(embedder)

    assert await answer(answerer, question, passages) == NOT_FOUND_ANSWER


async def test_the_question_embedding_retrieval_sends_gives_the_same_answer(
    embedder, passages
) -> None:
    # retrieve_svc's vector (its own cache of the same model) carried by context.retrieved
    sent = QuestionEmbedding.of(
        embedder.model_id, np.asarray(embedder.embed_query(QUESTION), dtype="<f4").tobytes()
    )
    fresh = ExtractiveAnswerer(embedder).candidates(QUESTION, passages)
    told = ExtractiveAnswerer(embedder)

    assert told.remember_question(QUESTION, sent)
    assert told._questions.misses == 0
    reused = told.candidates(QUESTION, passages)
    assert told._questions.misses == 0 and told._questions.hits == 1  # the model did not run
    assert [c.text for c in reused] == [c.text for c in fresh]
    np.testing.assert_allclose([c.cosine for c in reused], [c.cosine for c in fresh], atol=1e-6)
