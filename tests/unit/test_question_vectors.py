"""retrieve_svc's question embeddings: one cache per model, never mixed.

Through the service with real stores: tests/integration/test_retrieve_filters.py
(cache counts) and tests/integration/test_versions.py (a switch between models).
"""

import numpy as np
import pytest

from ragbus.embedding import FakeEmbedder
from ragbus.embedding.base import Vectors
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


def test_each_model_embeds_a_question_once_into_its_own_cache() -> None:
    old, new = CountingEmbedder(dim=8), CountingEmbedder(dim=16)
    questions = QuestionVectors(old, cache_size=4)

    first = questions.embed(["which model?"], old)[0]
    again = questions.embed(["which model?"], old)[0]
    other = questions.embed(["which model?"], new)[0]

    assert first is again and old.questions == ["which model?"]  # the second from cache
    assert first is not None and first.shape == (8,)
    assert other is not None and other.shape == (16,) and new.questions == ["which model?"]
    assert (questions.cache.hits, questions.cache.misses) == (1, 1)  # the deployment's model


def test_peek_returns_a_held_vector_with_its_model_and_never_runs_one() -> None:
    model = CountingEmbedder(dim=8)
    questions = QuestionVectors(model, cache_size=4)

    assert questions.peek("held?") is None
    vector = questions.embed(["held?"], model)[0]
    held = questions.peek("held?")

    assert held is not None and held.model_id == model.model_id
    np.testing.assert_array_equal(np.frombuffer(held.raw(), dtype="<f4"), vector)
    assert model.questions == ["held?"]
