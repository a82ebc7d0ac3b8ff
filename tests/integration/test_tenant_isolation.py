"""Property: whatever the tenants, documents, question, mode and filters, a query
returns only its own tenant's chunks (real Postgres, real Qdrant local and pgvector,
the real BM25 encoder)."""

import re
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ragbus.embedding.fake import FakeEmbedder
from ragbus.settings import InfraSettings
from ragbus.stores.documents import DocumentRepository
from ragbus.stores.factory import open_vector_store
from ragbus.stores.vectors.pgvector import PgVectorStore
from retrieve_svc.document_filters import DocumentFilters
from retrieve_svc.service import RetrieveConfig, RetrieveService
from schemas.queries import RetrievalFilters, RetrievalOptions
from tests.integration.retrieval_world import index_document

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORDS = ["cafeteria", "hours", "protein", "fracture", "vitamin", "library", "the", "of", "ATP"]
texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join)
documents = st.lists(st.lists(texts, min_size=1, max_size=3), min_size=1, max_size=3)
tenants = st.lists(documents, min_size=2, max_size=3)  # per tenant: its documents' chunks
labels = st.sampled_from(["a", "b"])


@pytest.fixture(scope="module", params=["qdrant", "pgvector"])
async def world(request, pgvector_pool, tmp_path_factory):
    embedder = FakeEmbedder(dim=32)
    name = f"iso_{request.param}_{uuid.uuid4().hex[:8]}"
    if request.param == "qdrant":
        settings_ = InfraSettings(
            data_dir=tmp_path_factory.mktemp("iso"),
            vector_store="qdrant",
            qdrant_url=None,
            qdrant_collection=name,
        )
        vectors = await open_vector_store(settings_)
    else:
        vectors = PgVectorStore(pgvector_pool, table=re.sub(r"[^a-z0-9_]", "_", name))
    await vectors.open(model_id=embedder.model_id, dim=embedder.dim)
    docs = DocumentRepository(pgvector_pool)
    config = RetrieveConfig(overfetch=5)
    yield (
        docs,
        vectors,
        embedder,
        RetrieveService(docs, vectors, embedder, DocumentFilters(pgvector_pool), config),
    )
    await vectors.close()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    corpus=tenants,
    question=texts,
    mode=st.sampled_from(["dense", "sparse", "hybrid"]),
    label=labels,
    asks_foreign_ids=st.booleans(),
    mmr=st.one_of(st.none(), st.floats(0.0, 1.0)),
)
async def test_no_query_ever_returns_a_foreign_chunk(
    world, corpus, question, mode, label, asks_foreign_ids, mmr
):
    docs, vectors, embedder, service = world
    run = uuid.uuid4().hex[:8]
    owned: dict[str, set[uuid.UUID]] = {}
    for t, tenant_docs in enumerate(corpus):
        tenant = f"iso-{run}-{t}"
        owned[tenant] = set()
        for i, chunks in enumerate(tenant_docs):
            meta = {"label": "a" if i % 2 == 0 else "b"}
            doc = await index_document(docs, vectors, embedder, tenant, chunks, metadata=meta)
            owned[tenant].add(doc)
    everyone = set().union(*owned.values())
    for tenant, mine in owned.items():
        ids = sorted(everyone if asks_foreign_ids else mine)
        filters = RetrievalFilters(document_ids=ids, metadata={"label": label})
        for options in (
            RetrievalOptions(mode=mode, mmr_lambda=mmr),
            RetrievalOptions(mode=mode, filters=filters, mmr_lambda=mmr),
        ):
            passages, _ = await service.retrieve(tenant, question, 20, options)
            assert {p.document_id for p in passages} <= mine
        # Every tenant's chunks are findable: the property is not met by finding nothing.
        dense, _ = await service.retrieve(tenant, question, 20, RetrievalOptions(mode="dense"))
        assert {p.document_id for p in dense} == mine
