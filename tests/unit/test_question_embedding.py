"""``ContextRetrieved.question_embedding``: carried intact, used when it fits, ignored when not."""

import numpy as np
import pytest
from pydantic import ValidationError

from generate_svc.extractive import ExtractiveAnswerer
from ragbus.embedding import FakeEmbedder
from ragbus.embedding.base import Vectors
from schemas.embeddings import QuestionEmbedding
from schemas.queries import ContextRetrieved, Passage

pytestmark = pytest.mark.unit

QUESTION = "How do I spawn a child process?"
PASSAGES = [
    Passage(
        chunk_id="00000000-0000-0000-0000-000000000001",
        document_id="00000000-0000-0000-0000-000000000002",
        filename="child.md",
        text="Use spawn to start a child process. Bread is baked in a hot oven.",
        score=0.5,
    )
]


class CountingEmbedder(FakeEmbedder):
    """The fake model, counting the questions it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.questions = 0

    def embed_query(self, text: str) -> Vectors:
        self.questions += 1
        return super().embed_query(text)


def sent(model_id: str, vector: np.ndarray) -> QuestionEmbedding:
    return QuestionEmbedding.of(model_id, np.asarray(vector, dtype="<f4").tobytes())


def test_the_vector_survives_the_event_round_trip() -> None:
    vector = FakeEmbedder().embed_query(QUESTION)
    context = ContextRetrieved(
        tenant_id="t",
        query_id="00000000-0000-0000-0000-000000000003",
        question=QUESTION,
        passages=PASSAGES,
        question_embedding=sent("fake", vector),
    )
    back = ContextRetrieved.model_validate_json(context.model_dump_json())
    assert back.question_embedding is not None
    np.testing.assert_array_equal(np.frombuffer(back.question_embedding.raw(), "<f4"), vector)
    # publishers before the field: absent, not an error
    old = context.model_dump(mode="json", exclude={"question_embedding"})
    assert ContextRetrieved.model_validate(old).question_embedding is None


def test_a_vector_that_is_not_base64_float32_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="vector"):
        QuestionEmbedding(model_id="m", vector="not base64!")
    with pytest.raises(ValueError, match="4 per float32"):
        QuestionEmbedding(model_id="m", vector="AAAAAAA=").raw()  # 5 bytes


def test_the_answerer_uses_a_fitting_vector_instead_of_the_model() -> None:
    model = CountingEmbedder()
    answerer = ExtractiveAnswerer(model)
    expected = ExtractiveAnswerer(FakeEmbedder()).candidates(QUESTION, PASSAGES)

    assert answerer.remember_question(QUESTION, sent(model.model_id, model.embed_query(QUESTION)))
    model.questions = 0
    assert answerer.candidates(QUESTION, PASSAGES) == expected
    assert model.questions == 0


@pytest.mark.parametrize(
    ("model_id", "vector"),
    [
        ("another/model", np.ones(FakeEmbedder().dim) / np.sqrt(FakeEmbedder().dim)),
        (None, np.ones(7)),  # another size
        (None, np.full(FakeEmbedder().dim, np.nan)),  # not finite
    ],
)
def test_an_unfitting_vector_is_ignored_and_the_model_runs(
    model_id: str | None, vector: np.ndarray
) -> None:
    model = CountingEmbedder()
    answerer = ExtractiveAnswerer(model)
    expected = ExtractiveAnswerer(FakeEmbedder()).candidates(QUESTION, PASSAGES)

    assert not answerer.remember_question(QUESTION, sent(model_id or model.model_id, vector))
    assert answerer.candidates(QUESTION, PASSAGES) == expected
    assert model.questions == 1
