"""The local cross-encoder reranker (fastembed) on an ONNX export built by the test."""

import uuid

import pytest

from ragbus.embedding.fake import FakeEmbedder
from ragbus.stores.documents import DocumentRepository
from retrieve_svc.app import build_reranker
from retrieve_svc.cross_encoder import CrossEncoderReranker
from retrieve_svc.document_filters import DocumentFilters
from retrieve_svc.service import RetrieveConfig, RetrieveService
from retrieve_svc.settings import RetrieveSettings
from schemas.queries import RetrievalOptions
from tests.integration.cross_encoder_model import export_test_cross_encoder, onnx_logits
from tests.integration.retrieval_world import index_document, open_local_store

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # exports a model with torch

QUESTION = "how do I stop a running child process"
PASSAGES = [
    "Call kill() on the child process to send it SIGTERM.",
    "The spawn function starts a new process running the given command.",
    "Streams emit a close event once the underlying resource is released.",
    "Bread is baked in a hot oven for about forty minutes.",
    "A child process inherits the environment of its parent unless env is given.",
    "Use process.exit() to end the current Node.js process with a code.",
]


@pytest.fixture(scope="session")
def cross_encoder_dir(tmp_path_factory):
    return export_test_cross_encoder(tmp_path_factory.mktemp("cross-encoder") / "model")


@pytest.fixture(scope="module")
def reranker(cross_encoder_dir):
    reranker = CrossEncoderReranker(cross_encoder_dir, batch_size=4)  # two batches of six
    reranker.warm_up()
    return reranker


async def test_the_reranker_orders_by_the_model_s_own_logits(reranker, cross_encoder_dir):
    expected = onnx_logits(cross_encoder_dir, QUESTION, PASSAGES)
    order = await reranker.rerank(QUESTION, PASSAGES)

    assert [i for i, _ in order] == sorted(range(len(PASSAGES)), key=lambda i: -expected[i])
    assert [s for _, s in order] == pytest.approx(sorted(expected, reverse=True), abs=1e-4)
    assert len(set(expected)) == len(expected)  # distinct scores, so the order is meaningful
    assert await reranker.rerank(QUESTION, []) == []


def test_settings_build_the_local_reranker_from_a_path(cross_encoder_dir):
    settings = RetrieveSettings(rerank_model_path=cross_encoder_dir)
    built = build_reranker(settings)
    assert isinstance(built, CrossEncoderReranker) and built.name == "local:model"


async def test_the_service_reranks_hits_with_the_cross_encoder(
    pool, tmp_path, reranker, cross_encoder_dir
):
    embedder = FakeEmbedder(dim=32)
    vectors = await open_local_store(tmp_path, "ce", embedder)
    docs = DocumentRepository(pool)
    tenant = f"ce-{uuid.uuid4().hex[:8]}"
    for text in PASSAGES:
        await index_document(docs, vectors, embedder, tenant, [text])
    config = RetrieveConfig(default_mode="dense")
    filters = DocumentFilters(pool)
    service = RetrieveService(docs, vectors, embedder, filters, config, reranker=reranker)

    plain, _ = await service.retrieve(tenant, QUESTION, 6, RetrievalOptions(rerank=False))
    reranked, timings = await service.retrieve(tenant, QUESTION, 6)
    technique, _ = await service.retrieve(
        tenant, QUESTION, 6, RetrievalOptions(technique="hybrid_rerank")
    )

    logits = dict(zip(PASSAGES, onnx_logits(cross_encoder_dir, QUESTION, PASSAGES), strict=True))
    by_model = sorted(PASSAGES, key=lambda text: -logits[text])
    assert [p.text for p in reranked] == by_model
    assert [p.text for p in plain] != by_model  # the reranker, not the search, ordered them
    assert [p.score for p in reranked] == pytest.approx([logits[t] for t in by_model], abs=1e-4)
    assert [p.text for p in technique] == by_model
    assert timings.rerank_ms is not None
    await vectors.close()
