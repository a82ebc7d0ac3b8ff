"""embed_svc's handlers on FastStream's in-memory NATS broker: routing and typing.

``texts.embed`` runs the real :class:`EmbeddingsApi` on the fake model; the lanes'
batch handler and ``document.delete`` reach fakes that record their calls. A lane
is opened here the way :mod:`embed_svc.tenant_lanes` opens one on a running broker
(its discovery reads a real stream, so it is not started). Acks, redelivery and
de-duplication need a real server (tests/integration/test_lanes.py,
tests/integration/test_embed_commit.py, tests/e2e/test_redelivery.py).
"""

import base64
import uuid
from typing import Any, cast

import numpy as np
import pytest
from faststream.nats import NatsBroker, TestNatsBroker
from nats.aio.msg import Msg

from embed_svc.handlers import build_router, embed_handler, lane_spec
from embed_svc.model_lock import ModelLock
from embed_svc.settings import EmbedSettings
from embed_svc.texts_embedding import EmbeddingsApi
from ragbus.bus import EventPublisher
from ragbus.embedding import FakeEmbedder
from ragbus.subscribers import jetstream_subscriber
from schemas import ChunkPayload, ChunksReady, DeleteDocument, EmbedTexts, TextsEmbedded
from schemas import subjects as s
from tests.contract.wrong_shapes import assert_refused, assert_request_refused

pytestmark = pytest.mark.contract

DOCUMENT = uuid.uuid4()
BATCH = ChunksReady(
    tenant_id="acme",
    document_id=DOCUMENT,
    version=1,
    filename="notes.md",
    batch_index=0,
    batch_count=1,
    total_chunks=1,
    chunks=[ChunkPayload(chunk_id=uuid.uuid4(), index=0, text="otters", token_count=1)],
)
DELETE = DeleteDocument(tenant_id="acme", document_id=DOCUMENT)


class FakeEmbed:
    """Records ``delete`` calls (the only method the router calls on the service)."""

    def __init__(self) -> None:
        self.deleted: list[DeleteDocument] = []

    async def delete(self, command: DeleteDocument) -> None:
        self.deleted.append(command)


class FakePulls:
    """Records what a lane hands :meth:`PullBatches.handle`: the pull's raw messages.

    A lane does not decode: :meth:`PullBatches.handle` decodes each message on its
    own, so one undecodable message never fails the pull (its dead-lettering needs a
    real server: tests/e2e/test_bus_security.py).
    """

    def __init__(self) -> None:
        self.handled: list[list[Msg]] = []

    async def handle(self, pulled: list[Msg]) -> None:
        self.handled.append(pulled)


class CountingEmbedder(FakeEmbedder):
    """The fake model, counting its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def embed_documents(self, texts):  # type: ignore[no-untyped-def]
        self.calls += 1
        return super().embed_documents(texts)


def broker(
    embedder: FakeEmbedder | None = None,
    service: FakeEmbed | None = None,
    pulls: FakePulls | None = None,
) -> NatsBroker:
    """embed_svc's router, plus the lane of tenant ``acme`` when ``pulls`` is given."""
    nats = NatsBroker()
    api = EmbeddingsApi(embedder or FakeEmbedder(), ModelLock())
    none = cast(Any, None)  # what a test does not exercise
    settings = EmbedSettings()
    nats.include_router(build_router(cast(Any, service), settings, none, api).router)
    if pulls is not None:
        spec = lane_spec(settings)
        subscriber = jetstream_subscriber(
            nats,
            spec.consumer(s.chunks_ready_for("acme")),
            batch_size=spec.batch_size,
            timeout_s=spec.timeout_s,
            batch=True,
        )
        subscriber(embed_handler(cast(Any, pulls)))
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


async def test_a_lane_hands_its_pull_to_pull_batches_as_raw_messages() -> None:
    pulls = FakePulls()
    async with TestNatsBroker(broker(pulls=pulls)) as nats:
        await EventPublisher(nats).publish(BATCH, s.chunks_ready_for("acme"))
        await nats.publish(b"{not json", s.chunks_ready_for("acme"))
    first, second = pulls.handled
    assert [raw.subject for raw in first + second] == [s.chunks_ready_for("acme")] * 2
    assert ChunksReady.model_validate_json(first[0].data) == BATCH
    assert second[0].data == b"{not json"


async def test_a_delete_reaches_the_service_as_the_typed_command() -> None:
    service = FakeEmbed()
    async with TestNatsBroker(broker(service=service)) as nats:
        await EventPublisher(nats).publish(DELETE, s.DOCUMENT_DELETE)
    assert service.deleted == [DELETE] and type(service.deleted[0]) is DeleteDocument


async def test_payloads_of_the_wrong_shape_reach_nothing() -> None:
    embedder, service = CountingEmbedder(), FakeEmbed()
    async with TestNatsBroker(broker(embedder, service)) as nats:
        await assert_refused(nats, DELETE, s.DOCUMENT_DELETE)
        request = EmbedTexts(tenant_id="acme", texts=["x"])
        await assert_request_refused(nats, request, s.TEXTS_EMBED)
    assert (service.deleted, embedder.calls) == ([], 0)
