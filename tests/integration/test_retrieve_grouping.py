"""RetrieveService's ``group_by`` against real Postgres and Qdrant local mode."""

import dataclasses
import uuid

import pytest

from ragbus.embedding.fake import FakeEmbedder
from ragbus.stores.documents import DocumentRepository
from ragbus.stores.vectors.base import Fusion
from retrieve_svc.document_filters import DocumentFilters
from retrieve_svc.service import RetrieveConfig, RetrieveService
from schemas.queries import RetrievalOptions
from tests.integration.retrieval_world import index_document, open_local_store

pytestmark = pytest.mark.integration

QUESTION = "cafeteria opening hours"
FUSION = Fusion(k=5, sparse_weight=0.75, group_by="document", per_document=2)


async def test_passages_come_grouped_by_document_unless_chunks_are_asked_for(
    pool, tmp_path, unique_name
):
    embedder = FakeEmbedder(dim=64)
    vectors = await open_local_store(tmp_path, f"g_{unique_name}", embedder)
    docs = DocumentRepository(pool)
    config = RetrieveConfig(fusion=FUSION)
    service = RetrieveService(docs, vectors, embedder, DocumentFilters(pool), config)
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    many = await index_document(
        docs,
        vectors,
        embedder,
        tenant,
        [f"Cafeteria opening hours, note {n}: the cafeteria opens at {n}." for n in range(4)],
    )
    one = await index_document(docs, vectors, embedder, tenant, ["Opening hours of the library."])

    for mode in ("dense", "sparse", "hybrid"):
        options = RetrievalOptions(mode=mode)
        passages, _ = await service.retrieve(tenant, QUESTION, 3, options)
        documents = [p.document_id for p in passages]
        assert documents == [many, many, one], mode  # two passages of each document first
        assert passages[0].score == passages[1].score >= passages[2].score
        # with room for more, the rest of each document's passages follow
        passages, _ = await service.retrieve(tenant, QUESTION, 10, options)
        assert [p.document_id for p in passages] == [many, many, one, many, many], mode
        chunked = RetrievalOptions(mode=mode, group_by="chunk")
        passages, _ = await service.retrieve(tenant, QUESTION, 10, chunked)
        assert [p.document_id for p in passages].count(many) == 4, mode

    # The service's default decides when the request names nothing.
    plain = dataclasses.replace(config, fusion=dataclasses.replace(FUSION, group_by="chunk"))
    service = RetrieveService(docs, vectors, embedder, DocumentFilters(pool), plain)
    passages, _ = await service.retrieve(tenant, QUESTION, 10, RetrievalOptions())
    assert [p.document_id for p in passages].count(many) == 4
    grouped = RetrievalOptions(group_by="document")
    passages, _ = await service.retrieve(tenant, QUESTION, 3, grouped)
    assert [p.document_id for p in passages] == [many, many, one]
    await vectors.close()
