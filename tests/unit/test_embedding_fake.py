"""FakeEmbedder keeps the Embedder contract: shapes, dtype, determinism, similarity."""

import numpy as np
import pytest

from ragbus.embedding import Embedder, FakeEmbedder

pytestmark = pytest.mark.unit


def test_satisfies_the_port() -> None:
    embedder: Embedder = FakeEmbedder()
    embedder.warm_up()
    assert (embedder.model_id, embedder.dim, embedder.max_tokens) == ("fake/hashing-384", 384, 256)


def test_shapes_and_dtype() -> None:
    embedder = FakeEmbedder(dim=64, max_tokens=32)

    documents = embedder.embed_documents(["one text", "another text", ""])
    query = embedder.embed_query("a question")

    assert documents.shape == (3, 64) and documents.dtype == np.float32
    assert query.shape == (64,) and query.dtype == np.float32
    assert embedder.max_tokens == 32


def test_empty_input_gives_zero_rows() -> None:
    vectors = FakeEmbedder(dim=16).embed_documents([])

    assert vectors.shape == (0, 16) and vectors.dtype == np.float32


def test_rows_are_unit_length_even_for_empty_text() -> None:
    vectors = FakeEmbedder().embed_documents(["", "word", "Many words, some repeated words."])

    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)


def test_deterministic_across_instances_and_order() -> None:
    texts = ["NATS JetStream streams", "Qdrant collections"]

    first = FakeEmbedder().embed_documents(texts)
    second = FakeEmbedder().embed_documents(texts[::-1])[::-1]

    np.testing.assert_array_equal(first, second)


def test_query_equals_single_document() -> None:
    embedder = FakeEmbedder()

    np.testing.assert_array_equal(
        embedder.embed_query("Where is Qdrant?"), embedder.embed_documents(["Where is Qdrant?"])[0]
    )


def test_case_and_punctuation_do_not_matter() -> None:
    embedder = FakeEmbedder()

    np.testing.assert_allclose(
        embedder.embed_query("Hello, World!"), embedder.embed_query("hello world"), rtol=1e-6
    )


def test_shared_words_rank_higher() -> None:
    embedder = FakeEmbedder()
    query = embedder.embed_query("how do streams retain messages in nats")
    documents = embedder.embed_documents(
        [
            "penguins live in the southern hemisphere",
            "streams retain messages until limits are reached",
            "nats streams retain messages by limits, interest or work queue",
        ]
    )

    scores = documents @ query

    assert list(np.argsort(-scores)) == [2, 1, 0]


def test_tokenizer_counts_words_and_adds_special_tokens_on_request() -> None:
    tokenizer = FakeEmbedder().tokenizer
    text = "Three little words, and punctuation."

    plain = tokenizer.encode(text, add_special_tokens=False)
    framed = tokenizer.encode(text)

    assert len(plain.ids) == 7  # five words, a comma and a full stop
    assert framed.tokens[0] == "[CLS]" and framed.tokens[-1] == "[SEP]"
    assert len(framed.ids) == len(plain.ids) + 2
    assert plain.offsets[0] == (0, 5)


def test_tokenizer_does_not_truncate() -> None:
    tokenizer = FakeEmbedder(max_tokens=8).tokenizer

    assert len(tokenizer.encode("word " * 500, add_special_tokens=False).ids) == 500


def test_rejects_tiny_dimension() -> None:
    with pytest.raises(ValueError, match="dim"):
        FakeEmbedder(dim=1)
