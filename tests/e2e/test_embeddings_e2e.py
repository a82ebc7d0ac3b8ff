"""The official ``openai`` client against ``/v1/embeddings`` on the whole stack.

Real nats-server, Postgres and model: the vectors come from embed_svc over
``texts.embed`` and must be the ones the model gives directly for the same texts.
"""

import base64
import contextlib
import uuid
from collections.abc import AsyncIterator

import numpy as np
import openai
import pytest

from ragbus.embedding import FastEmbedEmbedder
from tests.e2e.stack import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TEXTS = [
    "The spawn function starts a new child process that runs the given command.",
    "Sourdough bread is leavened with a starter of wild yeast.",
    "kill() sends SIGTERM",
]
LONG = " ".join(["The child process writes its output to stdout and stderr."] * 40)


@pytest.fixture(scope="module")
def direct(stack: RunningStack) -> FastEmbedEmbedder:
    """The model loaded on its own, not the stack's shared instance."""
    embedder = FastEmbedEmbedder(stack.infra)
    embedder.warm_up()
    return embedder


@contextlib.asynccontextmanager
async def client(stack: RunningStack) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official client of a fresh tenant, authenticated by its ragbus key alone."""
    key = await stack.key(f"emb-{uuid.uuid4().hex[:8]}", "reader")
    async with openai.AsyncOpenAI(
        base_url=f"{stack.url}/v1", api_key=key, max_retries=0, timeout=120
    ) as oai:
        yield oai


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


@pytest.mark.parametrize("encoding_format", [None, "float", "base64"])
async def test_vectors_are_the_models_own(
    stack: RunningStack, direct: FastEmbedEmbedder, encoding_format: str | None
) -> None:
    extra = {} if encoding_format is None else {"encoding_format": encoding_format}
    async with client(stack) as oai:
        # None: the client's default, which asks for base64 and decodes it itself
        result = await oai.embeddings.create(model="ragbus", input=TEXTS, **extra)  # type: ignore[arg-type]
    if encoding_format == "base64":  # asked for explicitly: the client leaves it encoded
        packed = [base64.b64decode(str(d.embedding)) for d in result.data]
        got = np.stack([np.frombuffer(p, dtype="<f4") for p in packed])
    else:
        got = np.array([d.embedding for d in result.data], dtype=np.float32)
    assert got.shape == (3, 384)
    assert [d.index for d in result.data] == [0, 1, 2]
    assert result.model == direct.model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert cosines(got, direct.embed_documents(TEXTS)).min() >= 0.9999
    tokens = [len(direct.tokenizer.encode(t, add_special_tokens=False).ids) for t in TEXTS]
    assert result.usage.prompt_tokens == result.usage.total_tokens == sum(tokens) > 0


async def test_a_string_input_and_a_truncated_one(
    stack: RunningStack, direct: FastEmbedEmbedder
) -> None:
    async with client(stack) as oai:
        one = await oai.embeddings.create(model=direct.model_id, input=TEXTS[0])
        long = await oai.embeddings.create(
            model="all-MiniLM-L6-v2", input=["short text", LONG], encoding_format="float"
        )
    assert len(one.data) == 1 and len(one.data[0].embedding) == 384
    # The model reads the first 254 word pieces (256 with [CLS] and [SEP]); so does ingestion.
    assert (long.model_extra or {})["ragbus"]["truncated"] == [1]
    assert (long.model_extra or {})["ragbus"]["token_counts"][1] == 254
    got = np.array([d.embedding for d in long.data], dtype=np.float32)
    assert cosines(got, direct.embed_documents(["short text", LONG])).min() >= 0.9999


async def test_bad_requests_are_refused_with_openai_errors(stack: RunningStack) -> None:
    async with client(stack) as oai:
        with pytest.raises(openai.BadRequestError) as empty:
            await oai.embeddings.create(model="ragbus", input=["fine", ""])
        with pytest.raises(openai.BadRequestError) as dims:
            await oai.embeddings.create(model="ragbus", input="x", dimensions=256)
        with pytest.raises(openai.NotFoundError) as model:
            await oai.embeddings.create(model="text-embedding-3-small", input="x")
    assert empty.value.body["message"] == "input[1] is an empty string"  # type: ignore[index]
    assert dims.value.param == "dimensions"
    assert model.value.code == "model_not_found"
