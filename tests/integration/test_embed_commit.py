"""``EmbedService.commit`` against real Postgres and Qdrant local mode.

The commit lets ``record_batch``'s row-locked check decide whether a batch counts,
and reads the document only when that check refuses it: these tests pin what that
must still guarantee (announcements, idempotent redelivery, clean-up after a
delete or reprocess that lands between the model call and the commit).
"""

import uuid

import pytest

from embed_svc.service import EmbedService
from ragbus.embedding.fake import FakeEmbedder
from ragbus.stores.documents import DocumentRepository
from schemas import ChunkPayload, ChunksReady, DocumentStatus, chunk_id
from schemas import subjects as s
from tests.integration.retrieval_world import RecordingPublisher, open_local_store

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(pool, tmp_path, unique_name):
    """Repository, Qdrant local store, embed service, recording publisher, tenant."""
    embedder = FakeEmbedder(dim=32)
    vectors = await open_local_store(tmp_path, f"c_{unique_name}", embedder)
    docs = DocumentRepository(pool)
    publisher = RecordingPublisher()
    embed = EmbedService(docs, vectors, embedder, publisher)  # type: ignore[arg-type]
    yield docs, vectors, embed, publisher, f"tenant-{uuid.uuid4().hex[:8]}"
    await vectors.close()


async def new_document(docs: DocumentRepository, tenant: str, chunks_total: int) -> uuid.UUID:
    doc, _ = await docs.create(tenant, uuid.uuid4(), filename="a.txt")
    assert await docs.set_parsed(
        tenant,
        doc.id,
        version=1,
        chunks_total=chunks_total,
        title=None,
        parser="text",
        page_count=None,
    )
    return doc.id


def batch(tenant: str, doc_id: uuid.UUID, index: int, total: int, version: int = 1) -> ChunksReady:
    text = f"otters hold hands while they sleep, part {index}"
    return ChunksReady(
        tenant_id=tenant,
        document_id=doc_id,
        version=version,
        filename="a.txt",
        batch_index=index,
        batch_count=total,
        total_chunks=total,
        chunks=[
            ChunkPayload(
                chunk_id=chunk_id(tenant, doc_id, version, index),
                index=index,
                text=text,
                token_count=len(text.split()),
            )
        ],
    )


def statuses(publisher: RecordingPublisher) -> list[tuple[str, int]]:
    return [
        (str(e.status), e.progress.done)
        for subj, e, _ in publisher.sent
        if subj == s.DOCUMENT_STATUS
    ]


async def test_progress_then_indexed_and_a_redelivery_changes_nothing(world) -> None:
    docs, vectors, embed, publisher, tenant = world
    doc_id = await new_document(docs, tenant, chunks_total=2)
    batches = [batch(tenant, doc_id, i, 2) for i in range(2)]
    matrices = await embed.embed(batches)
    for b, m in zip(batches, matrices, strict=True):
        await embed.commit(b, m)
    # the last batch goes straight to ``indexed``: no ``embedding`` 2/2 before it
    assert statuses(publisher) == [("embedding", 1), ("indexed", 2)]
    first = [(subj, msg_id) for subj, _, msg_id in publisher.sent]

    for b, m in zip(batches, matrices, strict=True):  # both redelivered
        await embed.commit(b, m)
    row = await docs.get(tenant, doc_id)
    assert row is not None
    assert (row.status, row.chunks_embedded) == (DocumentStatus.INDEXED, 2)
    assert await vectors.count(tenant_id=tenant, document_id=doc_id) == 2
    # Re-announcements reuse their Nats-Msg-Id, so JetStream stores each once;
    # the redelivered first batch says nothing (its progress is no longer news).
    again = [(subj, msg_id) for subj, _, msg_id in publisher.sent[len(first) :]]
    assert set(again) <= set(first)
    assert (s.DOCUMENT_STATUS, f"{doc_id}:1:embedding:1") not in again


async def test_a_delete_between_the_model_call_and_the_commit_leaves_no_vectors(world) -> None:
    docs, vectors, embed, publisher, tenant = world
    doc_id = await new_document(docs, tenant, chunks_total=1)
    b = batch(tenant, doc_id, 0, 1)
    (matrix,) = await embed.embed([b])
    assert len(matrix) == 1  # embedded: the document was live then
    await docs.mark_deleted(tenant, doc_id)
    await embed.commit(b, matrix)
    assert await vectors.count(tenant_id=tenant, document_id=doc_id) == 0
    assert statuses(publisher) == []


async def test_a_reprocess_between_the_model_call_and_the_commit_leaves_no_vectors(world) -> None:
    docs, vectors, embed, publisher, tenant = world
    doc_id = await new_document(docs, tenant, chunks_total=1)
    b = batch(tenant, doc_id, 0, 1)
    (matrix,) = await embed.embed([b])
    await docs.reset_for_reprocess(tenant, doc_id)  # version 2 current, nothing searchable
    await embed.commit(b, matrix)
    assert await vectors.count(tenant_id=tenant, document_id=doc_id) == 0
    row = await docs.get(tenant, doc_id)
    assert row is not None and (row.version, row.chunks_embedded) == (2, 0)
    assert statuses(publisher) == []
