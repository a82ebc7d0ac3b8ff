"""The ``texts.embed`` handler's contract, on FastStream's in-memory NATS broker."""

import base64
from typing import Any, cast

import numpy as np
import pytest
from faststream.nats import NatsBroker, TestNatsBroker

from embed_svc.handlers import build_router
from embed_svc.model_lock import ModelLock
from embed_svc.settings import EmbedSettings
from embed_svc.texts_embedding import EmbeddingsApi
from ragbus.embedding import FakeEmbedder
from schemas import EmbedTexts, TextsEmbedded
from schemas import subjects as s

pytestmark = pytest.mark.contract


def broker(embedder: FakeEmbedder) -> NatsBroker:
    nats = NatsBroker()
    api = EmbeddingsApi(embedder, ModelLock())
    none = cast(Any, None)  # the lanes and deletes are not exercised here
    nats.include_router(build_router(none, EmbedSettings(), none, api).router)
    return nats


async def test_a_request_is_answered_with_one_vector_per_text() -> None:
    embedder = FakeEmbedder()
    async with TestNatsBroker(broker(embedder)) as nats:
        request = EmbedTexts(tenant_id="acme", texts=["first text", "second"])
        response = await nats.request(request, s.TEXTS_EMBED, timeout=5)
        reply = TextsEmbedded.model_validate(await response.decode())
    assert reply.tenant_id == "acme" and reply.error_code is None
    vectors = np.stack([np.frombuffer(base64.b64decode(e), dtype="<f4") for e in reply.embeddings])
    np.testing.assert_array_equal(vectors, embedder.embed_documents(["first text", "second"]))
    assert reply.token_counts == [2, 1] and reply.prompt_tokens == 3


async def test_a_refusal_is_a_reply_with_its_code() -> None:
    async with TestNatsBroker(broker(FakeEmbedder())) as nats:
        request = EmbedTexts(tenant_id="acme", texts=["x"], model="text-embedding-3-small")
        response = await nats.request(request, s.TEXTS_EMBED, timeout=5)
        reply = TextsEmbedded.model_validate(await response.decode())
    assert reply.error_code == "model_not_found" and reply.embeddings == []
