"""The zero-cost embedder of ``ragbus bench ingest --embedder fake``: the bus's ceiling.

The real pipeline runs with :class:`~ragbus.embedding.FakeEmbedder`'s hashing vectors
instead of the model, so what remains is everything around the model call: upload,
parse, chunk, Postgres, NATS, the vector store. The chunker still counts tokens with
the real model's tokenizer (loaded from its ``tokenizer.json``, without the ONNX
session), so the chunks, and what they cost to make, are the ones a real run makes.

Only ``ragbus up`` (the in-process stack, a tool) reads :data:`FAKE_EMBEDDER_ENV`;
no service's composition root does, so ``python -m embed_svc`` and the compose and
Kubernetes deployments cannot be switched to it. Even ``ragbus up`` takes it only
with the exact value :data:`FAKE_EMBEDDER_CONSENT`, refuses any other value, and
logs a warning: search over hashing vectors finds shared words, not meaning.
"""

import logging
import os
from collections.abc import Mapping

from tokenizers import Tokenizer

from ragbus.embedding import FakeEmbedder, resolve_model
from ragbus.settings import InfraSettings

log = logging.getLogger(__name__)

FAKE_EMBEDDER_ENV = "RAGBUS_BENCH_FAKE_EMBEDDER"
"""Set (by the benchmark) to :data:`FAKE_EMBEDDER_CONSENT` to swap the model out."""
FAKE_EMBEDDER_CONSENT = "vectors-are-meaningless"
"""The only value accepted: whoever sets it says the index will be useless."""


class FakeEmbedderSettingError(ValueError):
    """:data:`FAKE_EMBEDDER_ENV` holds something other than the consent value."""


class BenchFakeEmbedder(FakeEmbedder):
    """Hashing vectors of the model's dimension, with the model's own tokenizer.

    Args:
        tokenizer: The model's tokenizer (counting only: no padding, no truncation);
            ``None`` keeps :class:`FakeEmbedder`'s word tokenizer.
        dim: The model's dimension.
        max_tokens: The model's token limit, which the chunker fills.
    """

    def __init__(self, tokenizer: Tokenizer | None, *, dim: int, max_tokens: int) -> None:
        super().__init__(dim=dim, max_tokens=max_tokens)
        if tokenizer is not None:
            self._tokenizer = tokenizer


def bench_fake_embedder(settings: InfraSettings) -> BenchFakeEmbedder:
    """The fake for the model ``settings`` name: its dimension, limit and tokenizer.

    A model fastembed downloaded (no local export) has no ``tokenizer.json`` at
    hand here: its chunks are then counted in words, and a warning says so.
    """
    resolved = resolve_model(settings.model_copy(update={"embed_precision": "fp32"}))
    tokenizer = None
    if resolved.path is not None and (resolved.path / "tokenizer.json").is_file():
        tokenizer = Tokenizer.from_file(str(resolved.path / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()
    else:
        log.warning("no tokenizer.json for %s: chunks counted in words", resolved.model_id)
    return BenchFakeEmbedder(tokenizer, dim=resolved.dim, max_tokens=resolved.max_tokens)


def fake_embedder_from_env(
    settings: InfraSettings, environ: Mapping[str, str] = os.environ
) -> BenchFakeEmbedder | None:
    """The fake when :data:`FAKE_EMBEDDER_ENV` asks for it, else ``None`` (the model).

    Raises:
        FakeEmbedderSettingError: the variable is set to anything but
            :data:`FAKE_EMBEDDER_CONSENT` (an empty value included).
    """
    value = environ.get(FAKE_EMBEDDER_ENV)
    if value is None:
        return None
    if value != FAKE_EMBEDDER_CONSENT:
        raise FakeEmbedderSettingError(
            f"{FAKE_EMBEDDER_ENV} is for benchmarks only; set it to {FAKE_EMBEDDER_CONSENT!r} "
            "to embed with meaningless hashing vectors, or unset it"
        )
    log.warning(
        "%s is set: embedding with hashing vectors, not the model (benchmark only)",
        FAKE_EMBEDDER_ENV,
    )
    return bench_fake_embedder(settings)
