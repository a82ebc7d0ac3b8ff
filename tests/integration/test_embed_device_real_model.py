"""The real model: length buckets change no vector and no order, and CUDA asked for
on a machine without it stops the embedder at start."""

import random

import numpy as np
import pytest

from ragbus.embedding import FastEmbedEmbedder, get_embedder
from ragbus.embedding.device import CUDA_PROVIDER
from ragbus.embedding.fastembed_embedder import length_batches
from ragbus.errors import EmbeddingDeviceError
from ragbus.settings import InfraSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORDS = (
    "JetStream keeps every message in a stream until each durable consumer has "
    "acknowledged it, and a consumer that restarts resumes where it stopped"
).split()


def texts(n: int = 40, seed: int = 7) -> list[str]:
    """``n`` texts of 1 to 300 words (4 to about 400 tokens, some truncated), shuffled."""
    rng = random.Random(seed)
    out = [" ".join(WORDS[i % len(WORDS)] for i in range(rng.randint(1, 300))) for _ in range(n)]
    rng.shuffle(out)
    return out


@pytest.fixture(scope="module")
def embedder() -> FastEmbedEmbedder:
    model = get_embedder(InfraSettings(embed_device="cpu", embed_threads=1))
    model.warm_up()
    assert isinstance(model, FastEmbedEmbedder)
    return model


def test_buckets_equal_one_padded_call_in_the_callers_order(embedder: FastEmbedEmbedder) -> None:
    batch = texts()
    lengths = [len(e.ids) for e in embedder.tokenizer.encode_batch(batch)]
    assert len(length_batches(lengths, 16)) >= 4  # the grouping is really exercised

    bucketed = embedder.embed_documents(batch)
    # unbucketed: the texts as given, all in one call padded to the longest
    model = embedder._model  # fastembed's TextEmbedding
    unbucketed = np.stack(list(model.embed(batch, batch_size=len(batch))))

    np.testing.assert_allclose(bucketed, unbucketed, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(bucketed, axis=1), 1.0, rtol=1e-5)


def test_cuda_on_a_machine_without_it_stops_at_start() -> None:
    ort = pytest.importorskip("onnxruntime")
    if CUDA_PROVIDER in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider; its fallback is a unit test")
    model = FastEmbedEmbedder(InfraSettings(embed_device="cuda"))

    with pytest.raises(EmbeddingDeviceError, match=r"RAGBUS_EMBED_DEVICE=cuda.*ragbus\[gpu\]"):
        model.warm_up()
    assert model.resolved is None  # nothing loaded, nothing exported first
