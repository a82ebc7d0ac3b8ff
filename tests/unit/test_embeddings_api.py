"""embed_svc's ``texts.embed`` logic with the fake model: vectors, tokens, refusals, turns."""

import asyncio
import base64
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from pydantic import ValidationError

from embed_svc.model_lock import ModelLock
from embed_svc.texts_embedding import EmbeddingsApi, encode_vectors, max_inputs
from ragbus.embedding import FakeEmbedder
from schemas import MAX_EMBED_INPUTS, MAX_EMBED_REQUEST_BYTES, EmbedTexts, TextsEmbedded

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def decode(reply: TextsEmbedded) -> np.ndarray:
    rows = [np.frombuffer(base64.b64decode(e), dtype="<f4") for e in reply.embeddings]
    return np.stack(rows)


def api(embedder: FakeEmbedder | None = None, turns: ModelLock | None = None) -> EmbeddingsApi:
    return EmbeddingsApi(embedder or FakeEmbedder(max_tokens=8), turns or ModelLock(), lambda: NOW)


async def test_vectors_are_the_passage_vectors_in_order() -> None:
    embedder = FakeEmbedder()
    texts = ["a much longer second text about child processes", "short", "x y"]
    reply = await api(embedder).embed(EmbedTexts(tenant_id="t", texts=texts))
    assert reply.error_code is None and reply.tenant_id == "t"
    assert (reply.model, reply.dim) == ("fake/hashing-384", 384)
    np.testing.assert_array_equal(decode(reply), embedder.embed_documents(texts))


async def test_tokens_are_counted_without_special_tokens_and_capped_at_the_window() -> None:
    # max_tokens 8 leaves a window of 6 word pieces after [CLS] and [SEP]
    texts = ["one two three", "a b c d e f", "a b c d e f g h i j"]
    reply = await api().embed(EmbedTexts(tenant_id="t", texts=texts))
    assert reply.token_counts == [3, 6, 6]
    assert reply.truncated == [2]
    assert reply.prompt_tokens == 15


@pytest.mark.parametrize("model", [None, "ragbus", "fake/hashing-384", "hashing-384"])
async def test_the_model_answers_to_its_names(model: str | None) -> None:
    reply = await api().embed(EmbedTexts(tenant_id="t", texts=["x"], model=model))
    assert reply.error_code is None and len(reply.embeddings) == 1


async def test_another_model_is_not_found() -> None:
    reply = await api().embed(EmbedTexts(tenant_id="t", texts=["x"], model="gpt-4o"))
    assert reply.error_code == "model_not_found" and reply.embeddings == []
    assert reply.error is not None and "'gpt-4o' does not exist" in reply.error
    assert "ragbus" in reply.error


async def test_dimensions_must_be_the_models() -> None:
    ok = await api().embed(EmbedTexts(tenant_id="t", texts=["x"], dimensions=384))
    assert ok.error_code is None
    bad = await api().embed(EmbedTexts(tenant_id="t", texts=["x"], dimensions=256))
    assert bad.error_code == "dimensions_unsupported"
    assert bad.error == "dimensions must be 384, the model's size (or left out)"


async def test_a_larger_model_takes_fewer_inputs_per_reply() -> None:
    assert max_inputs(384) == MAX_EMBED_INPUTS
    wide = FakeEmbedder(dim=1024)
    texts = ["x"] * (max_inputs(1024) + 1)
    reply = await api(wide).embed(EmbedTexts(tenant_id="t", texts=texts))
    assert reply.error_code == "too_many_inputs"
    assert reply.error == "144 inputs; at 1024 dimensions the limit is 143"


async def test_one_reply_stays_under_the_nats_payload_at_the_limits() -> None:
    texts = ["w " * 3000] * 80  # 80 x 6,000 bytes is over the request's byte limit ...
    with pytest.raises(ValidationError, match=f"the limit is {MAX_EMBED_REQUEST_BYTES} bytes"):
        EmbedTexts(tenant_id="t", texts=texts)
    request = EmbedTexts(tenant_id="t", texts=["word " * 200] * MAX_EMBED_INPUTS)
    reply = await api(FakeEmbedder()).embed(request)
    assert len(reply.model_dump_json()) < 1024 * 1024 - 4096


async def test_a_request_that_expired_while_waiting_skips_the_model() -> None:
    turns = ModelLock()
    service = api(turns=turns)
    late = EmbedTexts(tenant_id="t", texts=["x"], expires_at=NOW - timedelta(seconds=1))
    reply = await service.embed(late)
    assert reply.error_code == "expired" and reply.embeddings == []
    fresh = EmbedTexts(tenant_id="t", texts=["x"], expires_at=NOW + timedelta(seconds=30))
    assert (await service.embed(fresh)).error_code is None


async def test_a_model_failure_is_replied_not_raised() -> None:
    class Broken(FakeEmbedder):
        def embed_documents(self, texts):  # type: ignore[no-untyped-def]
            raise RuntimeError("onnxruntime fell over")

    reply = await api(Broken()).embed(EmbedTexts(tenant_id="t", texts=["x"]))
    assert reply.error_code == "embedding_failed"
    assert reply.error == "RuntimeError: onnxruntime fell over"


class QueueWatch(ModelLock):
    """The model's lock, telling when its n-th caller has asked for a turn.

    The event is set by the caller's own task, which goes on without yielding to
    queue on the lock, so whoever awaits it runs once that caller is in the queue.
    """

    def __init__(self) -> None:
        super().__init__()
        self._asked: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self._callers = 0

    def asked(self, n: int) -> asyncio.Event:
        return self._asked[n]

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        self._callers += 1
        self._asked[self._callers].set()
        async with super().turn():
            yield


async def test_a_request_waits_for_the_lane_holding_the_model_then_goes_before_later_ones() -> None:
    turns = QueueWatch()
    order: list[str] = []
    release = asyncio.Event()

    class Recording(FakeEmbedder):
        def embed_documents(self, texts):  # type: ignore[no-untyped-def]
            order.append("request")
            return super().embed_documents(texts)

    async def lane(name: str, hold: asyncio.Event | None = None) -> None:
        async with turns.turn():
            order.append(name)
            if hold is not None:
                await hold.wait()

    first = asyncio.create_task(lane("lane batch 1", release))
    await asyncio.wait_for(turns.asked(1).wait(), 10)  # the lane holds the model
    service = EmbeddingsApi(Recording(), turns, lambda: NOW)
    request = asyncio.create_task(service.embed(EmbedTexts(tenant_id="t", texts=["x"])))
    await asyncio.wait_for(turns.asked(2).wait(), 10)  # tokens counted, queued for its turn
    second = asyncio.create_task(lane("lane batch 2"))
    await asyncio.wait_for(turns.asked(3).wait(), 10)  # queued behind the request
    assert order == ["lane batch 1"]  # never on the model while a lane's batch runs
    release.set()
    reply, *_ = await asyncio.gather(request, first, second)
    assert reply.error_code is None
    assert order == ["lane batch 1", "request", "lane batch 2"]


def test_vectors_are_little_endian_float32_base64() -> None:
    vectors = np.array([[1.0, -0.5], [0.25, 2.0]], dtype=np.float32)
    (a, b) = encode_vectors(vectors)
    assert base64.b64decode(a) == np.array([1.0, -0.5], dtype="<f4").tobytes()
    assert np.frombuffer(base64.b64decode(b), dtype="<f4").tolist() == [0.25, 2.0]


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ([], "at least 1 item"),
        ([""], "at least 1 character"),
        (["x"] * (MAX_EMBED_INPUTS + 1), f"at most {MAX_EMBED_INPUTS} items"),
        (["x" * 8193], "at most 8192 characters"),
    ],
)
def test_the_command_bounds_its_texts(texts: list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EmbedTexts(tenant_id="t", texts=texts)
