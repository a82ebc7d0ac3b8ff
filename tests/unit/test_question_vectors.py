"""retrieve_svc's question embeddings: the model is guessed while the index version is read.

Through the service with real stores: tests/integration/test_retrieve_filters.py
(cache counts) and tests/integration/test_versions.py (a switch between models).
"""

import asyncio

import numpy as np
import pytest

from ragbus.embedding import FakeEmbedder
from ragbus.embedding.base import Vectors
from ragbus.errors import RetryableError
from ragbus.index_targets import IndexTarget
from ragbus.stores.vector_indexes import VectorIndex
from retrieve_svc.question_vectors import QuestionVectors

pytestmark = pytest.mark.unit


class CountingEmbedder(FakeEmbedder):
    """The fake model, recording the questions it embeds."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim=dim)
        self.questions: list[str] = []

    def embed_query(self, text: str) -> Vectors:
        self.questions.append(text)
        return super().embed_query(text)


def target(embedder: CountingEmbedder) -> IndexTarget:
    index = VectorIndex(id=None, tenant_id="t", shared=True)
    return IndexTarget(index, embedder, None)  # type: ignore[arg-type]


async def read(value: IndexTarget, delay_s: float = 0.01) -> IndexTarget:
    """The active version, read as slowly as a Postgres round trip."""
    await asyncio.sleep(delay_s)
    return value


async def test_the_same_model_embeds_each_question_once_while_the_version_is_read() -> None:
    model = CountingEmbedder(dim=8)
    questions = QuestionVectors(model, cache_size=0)  # no cache: every call runs the model
    for question in ("first?", "second?"):
        resolved, vectors = await questions.embed_for(read(target(model)), [question])
        assert resolved.embedder is model
        assert vectors[0] is not None and vectors[0].shape == (8,)
    assert model.questions == ["first?", "second?"]


async def test_a_version_with_another_model_is_embedded_again_by_that_model() -> None:
    old, new = CountingEmbedder(dim=8), CountingEmbedder(dim=16)
    questions = QuestionVectors(old, cache_size=4)
    resolved, vectors = await questions.embed_for(read(target(new)), ["which model?"])
    assert resolved.embedder is new
    assert vectors[0] is not None and vectors[0].shape == (16,)  # never the guess's (8,)
    np.testing.assert_array_equal(vectors[0], new.embed_query("which model?"))
    assert old.questions == ["which model?"]  # the wasted guess
    await questions.embed_for(read(target(new)), ["next?"])
    assert old.questions == ["which model?"]  # the next guess is the new model
    assert new.questions.count("next?") == 1
    held = questions.peek("next?")
    assert held is not None and held.model_id == new.model_id


async def test_a_failed_version_read_raises_after_the_guess_finishes() -> None:
    model = CountingEmbedder(dim=8)
    questions = QuestionVectors(model, cache_size=4)

    async def down() -> IndexTarget:
        raise RetryableError("postgres is down")

    with pytest.raises(RetryableError, match="postgres is down"):
        await questions.embed_for(down(), ["anyone?"])
    assert model.questions == ["anyone?"]  # the thread was awaited, not left running
    assert questions.cache.peek("anyone?") is not None
