"""``context.retrieved`` carries the question's embedding that retrieval computed.

Real Postgres and Qdrant local mode; the hashing fake model (the real one is in
``test_extractive_real_model.py``).
"""

import uuid

import numpy as np
import pytest
from pydantic import BaseModel

from ragbus.embedding.fake import FakeEmbedder
from ragbus.stores.documents import DocumentRepository
from ragbus.stores.queries import QueryRepository
from retrieve_svc.document_filters import DocumentFilters
from retrieve_svc.requests import RetrieveRequests
from retrieve_svc.service import RetrieveService
from schemas import subjects as s
from schemas.queries import ContextRetrieved, QueryRequested, RetrievalOptions
from tests.integration.retrieval_world import index_document, open_local_store

pytestmark = pytest.mark.integration


class Recorder:
    """A publisher that keeps what it is given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, BaseModel]] = []

    async def publish(self, event: BaseModel, subject: str, *, msg_id: str | None = None) -> None:
        self.sent.append((subject, event))


async def test_a_dense_search_sends_its_vector_and_a_sparse_one_sends_none(
    pool, tmp_path, unique_name
):
    embedder = FakeEmbedder(dim=64)
    vectors = await open_local_store(tmp_path, f"q_{unique_name}", embedder)
    docs = DocumentRepository(pool)
    service = RetrieveService(docs, vectors, embedder, DocumentFilters(pool))
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    await index_document(docs, vectors, embedder, tenant, ["The cafeteria opens at eight."])
    publisher = Recorder()
    requests = RetrieveRequests(service, QueryRepository(pool), publisher)

    asked = (("when does the cafeteria open", "hybrid"), ("cafeteria hours", "sparse"))
    for question, mode in asked:
        event = QueryRequested(
            tenant_id=tenant,
            query_id=uuid.uuid4(),
            question=question,
            top_k=3,
            **RetrievalOptions(mode=mode).model_dump(),
        )
        await requests.retrieve_context(event)

    (s1, dense), (s2, sparse) = publisher.sent
    assert s1 == s2 == s.CONTEXT_RETRIEVED
    assert isinstance(dense, ContextRetrieved) and isinstance(sparse, ContextRetrieved)
    assert dense.passages and dense.question_embedding is not None
    assert dense.question_embedding.model_id == embedder.model_id
    np.testing.assert_array_equal(
        np.frombuffer(dense.question_embedding.raw(), "<f4"),
        embedder.embed_query("when does the cafeteria open"),
    )
    assert sparse.question_embedding is None  # sparse search embeds nothing
    await vectors.close()
