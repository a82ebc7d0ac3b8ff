"""RetrieveService against real Postgres and Qdrant local: filters, modes, MMR, cache."""

import uuid
from datetime import UTC, datetime

import pytest

from ragbus.embedding.fake import FakeEmbedder
from ragbus.stores.documents import DocumentRepository
from retrieve_svc.document_filters import DocumentFilters
from retrieve_svc.service import RetrieveConfig, RetrieveService
from schemas.queries import RetrievalFilters, RetrievalOptions
from tests.integration.retrieval_world import index_document, open_local_store

pytestmark = pytest.mark.integration

QUESTION = "cafeteria opening hours"


@pytest.fixture
async def world(pool, tmp_path, unique_name):
    embedder = FakeEmbedder(dim=64)
    vectors = await open_local_store(tmp_path, f"f_{unique_name}", embedder)
    docs = DocumentRepository(pool)
    service = RetrieveService(docs, vectors, embedder, DocumentFilters(pool), RetrieveConfig())
    tenant = f"t-{uuid.uuid4().hex[:8]}"

    async def add(texts: list[str], metadata: dict | None = None, tenant_id: str = tenant):
        return await index_document(docs, vectors, embedder, tenant_id, texts, metadata=metadata)

    yield service, add, tenant, pool
    await vectors.close()


async def _documents(service, tenant, **options):
    passages, _ = await service.retrieve(tenant, QUESTION, 10, RetrievalOptions(**options))
    return {p.document_id for p in passages}


async def test_metadata_filter_keeps_only_matching_documents(world):
    service, add, tenant, _ = world
    en = await add(["The cafeteria opening hours are 8 to 4."], {"lang": "en", "year": 2024})
    de = await add(["The cafeteria opening hours change in summer."], {"lang": "de"})
    assert await _documents(service, tenant) == {en, de}
    assert await _documents(service, tenant, filters={"metadata": {"lang": "en"}}) == {en}
    assert await _documents(service, tenant, filters={"metadata": {"year": 2024}}) == {en}
    assert await _documents(service, tenant, filters={"metadata": {"year": "2024"}}) == set()
    both = {"metadata": {"lang": "de"}, "document_ids": [en]}
    assert await _documents(service, tenant, filters=both) == set()


async def test_upload_time_range(world):
    service, add, tenant, pool = world
    old = await add(["Cafeteria opening hours in 2020 were shorter."])
    new = await add(["Cafeteria opening hours are longer now."])
    await pool.execute(
        "UPDATE documents SET created_at = '2020-06-01T00:00:00Z' WHERE tenant_id = $1 AND id = $2",
        tenant,
        old,
    )
    cut = datetime(2021, 1, 1, tzinfo=UTC)
    assert await _documents(service, tenant, filters={"uploaded_before": cut}) == {old}
    assert await _documents(service, tenant, filters={"uploaded_after": cut}) == {new}


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
async def test_document_ids_and_min_score_in_every_mode(world, mode):
    service, add, tenant, _ = world
    first = await add(["Cafeteria opening hours: 8am."])
    second = await add(["Cafeteria hours on weekends: closed."])
    only = {"document_ids": [second]}
    assert await _documents(service, tenant, mode=mode, filters=only) == {second}
    passages, _ = await service.retrieve(tenant, QUESTION, 10, RetrievalOptions(mode=mode))
    assert {p.document_id for p in passages} == {first, second}
    cut = max(p.score for p in passages)
    kept, _ = await service.retrieve(
        tenant, QUESTION, 10, RetrievalOptions(mode=mode, min_score=cut)
    )
    assert kept and all(p.score >= cut for p in kept) and len(kept) < len(passages)


async def test_filters_never_reach_another_tenant(world):
    service, add, tenant, _ = world
    theirs = await add(["Cafeteria opening hours, secret."], {"lang": "en"}, tenant_id="other")
    mine = await add(["Cafeteria opening hours."], {"lang": "en"})
    for mode in ("dense", "sparse", "hybrid"):
        assert await _documents(service, tenant, mode=mode) == {mine}
        spoofed = RetrievalFilters(document_ids=[theirs, mine], metadata={"lang": "en"})
        assert await _documents(service, tenant, mode=mode, filters=spoofed) == {mine}
        assert await _documents(service, tenant, filters={"document_ids": [theirs]}) == set()


async def test_mmr_trades_a_near_duplicate_for_a_different_passage(world):
    service, add, tenant, _ = world
    a = await add(["cafeteria opening hours are eight to four"])
    b = await add(["cafeteria opening hours are eight to four today"])
    c = await add(["opening of the new library wing"])
    plain, _ = await service.retrieve(tenant, QUESTION, 2, RetrievalOptions(mode="dense"))
    assert {p.document_id for p in plain} == {a, b}
    diverse, _ = await service.retrieve(
        tenant, QUESTION, 2, RetrievalOptions(mode="dense", mmr_lambda=0.3)
    )
    assert diverse[0].document_id == plain[0].document_id
    assert diverse[1].document_id == c


async def test_a_repeated_question_is_embedded_once_and_sparse_needs_no_embedding(world):
    service, add, tenant, _ = world
    await add(["Cafeteria opening hours."])
    await service.retrieve(tenant, QUESTION, 3, RetrievalOptions(mode="sparse"))
    assert (service.cache.hits, service.cache.misses) == (0, 0)
    first, _ = await service.retrieve(tenant, QUESTION, 3, RetrievalOptions(mode="dense"))
    again, _ = await service.retrieve(tenant, QUESTION, 3, RetrievalOptions(mode="hybrid"))
    assert (service.cache.hits, service.cache.misses) == (1, 1)
    assert first[0].chunk_id == again[0].chunk_id
