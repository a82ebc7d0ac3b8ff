"""Document versions against real Postgres and Qdrant (local mode): never zero or both.

Retrieval shows a document's chunks only at its searchable version; indexing a new
version switches that in one row update, and only then are the old vectors removed.
"""

import uuid
from typing import Any

import pytest

from embed_svc.service import EmbedService
from ragbus.embedding.fake import FakeEmbedder
from ragbus.errors import PermanentError
from ragbus.stores.documents import DocumentRepository
from ragbus.stores.vectors.base import ChunkRecord
from retrieve_svc.document_filters import DocumentFilters
from retrieve_svc.service import RetrieveConfig, RetrieveService
from schemas import ChunkPayload, ChunksReady, DocumentStatus, chunk_id
from tests.integration.retrieval_world import RecordingPublisher, open_local_store

pytestmark = pytest.mark.integration

QUESTION = "when does the cafeteria open"
TEXTS = {1: "The cafeteria opens at 8am", 2: "The cafeteria opens at 10am"}


@pytest.fixture
async def world(pool, tmp_path, unique_name):
    """Repository, Qdrant local store, embed and retrieve services, and a tenant."""
    embedder = FakeEmbedder(dim=64)
    vectors = await open_local_store(tmp_path, f"v_{unique_name}", embedder)
    docs = DocumentRepository(pool)
    publisher = RecordingPublisher()
    embed = EmbedService(docs, vectors, embedder, publisher)  # type: ignore[arg-type]
    config = RetrieveConfig(default_mode="dense", overfetch=10)
    retrieve = RetrieveService(docs, vectors, embedder, DocumentFilters(pool), config)
    yield docs, vectors, embed, retrieve, publisher, f"tenant-{uuid.uuid4().hex[:8]}"
    await vectors.close()


def _batch(tenant: str, doc_id: uuid.UUID, version: int, index: int, total: int) -> ChunksReady:
    text = f"{TEXTS[version]} (part {index})"
    return ChunksReady(
        tenant_id=tenant,
        document_id=doc_id,
        version=version,
        filename="handbook.txt",
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


async def _embed(embed: EmbedService, batch: ChunksReady) -> None:
    (vectors,) = await embed.embed([batch])
    await embed.commit(batch, vectors)


async def _versions_seen(retrieve: RetrieveService, tenant: str, doc_id: uuid.UUID) -> set[str]:
    passages, _ = await retrieve.retrieve(tenant, QUESTION, top_k=10)
    return {p.text.split(" (part")[0] for p in passages if p.document_id == doc_id}


async def test_only_the_searchable_version_is_ever_returned(world):
    docs, vectors, embed, retrieve, publisher, tenant = world
    doc, _ = await docs.create(tenant, uuid.uuid4(), filename="handbook.txt", external_id="h")
    parsed = dict(chunks_total=2, title=None, parser="text", page_count=None)
    assert await docs.set_parsed(tenant, doc.id, version=1, **parsed)

    await _embed(embed, _batch(tenant, doc.id, 1, 0, 2))
    assert await _versions_seen(retrieve, tenant, doc.id) == set()  # half of v1: not yet
    await _embed(embed, _batch(tenant, doc.id, 1, 1, 2))
    assert (await docs.get(tenant, doc.id)).status is DocumentStatus.INDEXED
    assert await _versions_seen(retrieve, tenant, doc.id) == {TEXTS[1]}

    v2 = await docs.new_version(
        tenant,
        doc.id,
        sha256="ab" * 32,
        size_bytes=27,
        blob_key="k2",
        filename="handbook.txt",
        content_type="text/plain",
        metadata={},
    )
    assert v2 is not None and v2.version == 2
    assert await _versions_seen(retrieve, tenant, doc.id) == {TEXTS[1]}
    assert await docs.set_parsed(tenant, doc.id, version=2, **parsed)
    await _embed(embed, _batch(tenant, doc.id, 2, 0, 2))
    assert await vectors.count(tenant_id=tenant, document_id=doc.id) == 3  # both stored...
    assert await _versions_seen(retrieve, tenant, doc.id) == {TEXTS[1]}  # ...one shown
    await _embed(embed, _batch(tenant, doc.id, 2, 1, 2))
    row = await docs.get(tenant, doc.id)
    assert (row.status, row.version, row.searchable_version) == (DocumentStatus.INDEXED, 2, 2)
    assert await _versions_seen(retrieve, tenant, doc.id) == {TEXTS[2]}
    assert await vectors.count(tenant_id=tenant, document_id=doc.id) == 2  # v1 removed
    indexed = [e.version for subject, e, _ in publisher.sent if subject == "document.indexed"]
    assert indexed == [1, 2]


async def test_a_failed_new_version_leaves_the_old_one_searchable(world):
    docs, _, embed, retrieve, _, tenant = world
    doc, _ = await docs.create(tenant, uuid.uuid4(), filename="handbook.txt")
    parsed = dict(chunks_total=1, title=None, parser="text", page_count=None)
    await docs.set_parsed(tenant, doc.id, version=1, **parsed)
    await _embed(embed, _batch(tenant, doc.id, 1, 0, 1))
    await docs.reset_for_reprocess(tenant, doc.id)
    await docs.set_parsed(tenant, doc.id, version=2, **parsed)
    await docs.set_status(tenant, doc.id, DocumentStatus.FAILED, error="x", error_code="y")
    await _embed(embed, _batch(tenant, doc.id, 2, 0, 1))  # a late batch of the failed version
    assert await _versions_seen(retrieve, tenant, doc.id) == {TEXTS[1]}
    await docs.mark_deleted(tenant, doc.id)
    assert await _versions_seen(retrieve, tenant, doc.id) == set()


async def test_a_switch_between_search_and_version_read_still_finds_the_document(world):
    """The search saw only old chunks, then the new version became searchable: the
    document is searched again on its own instead of vanishing from the result."""
    docs, vectors, embed, _, _, tenant = world
    config = RetrieveConfig(default_mode="dense", overfetch=0)
    retrieve = RetrieveService(docs, vectors, embed._embedder, DocumentFilters(docs._pool), config)
    doc, _ = await docs.create(tenant, uuid.uuid4(), filename="handbook.txt")
    parsed = dict(chunks_total=1, title=None, parser="text", page_count=None)
    await docs.set_parsed(tenant, doc.id, version=1, **parsed)
    await _embed(embed, _batch(tenant, doc.id, 1, 0, 1))
    await docs.reset_for_reprocess(tenant, doc.id)
    await docs.set_parsed(tenant, doc.id, version=2, **parsed)
    # v2 is indexed in Postgres while v1's vector (closer to the question) is still
    # stored: top-1 search returns v1 only, yet v2 is the visible version.
    v2 = _batch(tenant, doc.id, 2, 0, 1)
    (matrix,) = await embed.embed([v2])
    await vectors.upsert([_record(tenant, doc.id, v2)], matrix)
    await docs.record_batch(tenant, doc.id, version=2, batch_index=0, chunk_count=1)
    await docs.mark_indexed(tenant, doc.id, version=2)
    passages, _ = await retrieve.retrieve(tenant, TEXTS[1], top_k=1)
    assert [p.text for p in passages] == [v2.chunks[0].text]


def _record(tenant: str, doc_id: uuid.UUID, batch: ChunksReady) -> ChunkRecord:
    c = batch.chunks[0]
    return ChunkRecord(
        chunk_id=c.chunk_id,
        tenant_id=tenant,
        document_id=doc_id,
        version=batch.version,
        chunk_index=c.index,
        text=c.text,
        filename=batch.filename,
        title=None,
        page=None,
        heading=None,
        token_count=c.token_count,
    )


async def test_a_failure_of_superseded_work_does_not_fail_the_new_version(world):
    docs, _, embed, _, publisher, tenant = world
    doc, _ = await docs.create(tenant, uuid.uuid4(), filename="handbook.txt")
    parsed = dict(chunks_total=1, title=None, parser="text", page_count=None)
    await docs.set_parsed(tenant, doc.id, version=1, **parsed)
    await docs.reset_for_reprocess(tenant, doc.id)  # version 2 is now current
    stale = _batch(tenant, doc.id, 1, 0, 1)
    await embed.fail(stale, PermanentError("model crashed on v1", code="embed_failed"))
    row = await docs.get(tenant, doc.id)
    assert (row.status, row.version, row.error) == (DocumentStatus.UPLOADED, 2, None)
    assert [s for s, _, _ in publisher.sent if s == "document.failed"] == []

    current = _batch(tenant, doc.id, 2, 0, 1)
    await embed.fail(current, PermanentError("model crashed on v2", code="embed_failed"))
    await embed.fail(current, PermanentError("model crashed on v2", code="embed_failed"))
    row = await docs.get(tenant, doc.id)
    assert (row.status, row.error_code) == (DocumentStatus.FAILED, "embed_failed")
    # The redelivered failure announces again rather than risk a lost announcement.
    assert [s for s, _, _ in publisher.sent if s == "document.failed"] == ["document.failed"] * 2


async def test_batches_of_deleted_or_superseded_documents_are_not_embedded(world):
    docs, vectors, embed, _, _, tenant = world
    parsed = dict(chunks_total=1, title=None, parser="text", page_count=None)
    deleted, _ = await docs.create(tenant, uuid.uuid4(), filename="gone.txt")
    await docs.set_parsed(tenant, deleted.id, version=1, **parsed)
    await docs.mark_deleted(tenant, deleted.id)
    moved, _ = await docs.create(tenant, uuid.uuid4(), filename="moved.txt")
    await docs.set_parsed(tenant, moved.id, version=1, **parsed)
    await docs.reset_for_reprocess(tenant, moved.id)  # version 2 is current
    live, _ = await docs.create(tenant, uuid.uuid4(), filename="live.txt")
    await docs.set_parsed(tenant, live.id, version=1, **parsed)
    batches = [
        _batch(tenant, deleted.id, 1, 0, 1),
        _batch(tenant, moved.id, 1, 0, 1),
        _batch(tenant, live.id, 1, 0, 1),
    ]
    matrices = await embed.embed(batches)
    assert [m.shape[0] for m in matrices] == [0, 0, 1]
    for batch, matrix in zip(batches, matrices, strict=True):
        await embed.commit(batch, matrix)
    counts = [await vectors.count(tenant_id=tenant, document_id=b.document_id) for b in batches]
    assert counts == [0, 0, 1]
    assert (await docs.get(tenant, live.id)).status == DocumentStatus.INDEXED


async def test_a_batch_re_versioned_during_its_upsert_leaves_no_vectors(world):
    docs, vectors, embed, _, publisher, tenant = world
    doc, _ = await docs.create(tenant, uuid.uuid4(), filename="handbook.txt")
    parsed = dict(chunks_total=1, title=None, parser="text", page_count=None)
    await docs.set_parsed(tenant, doc.id, version=1, **parsed)
    batch = _batch(tenant, doc.id, 1, 0, 1)
    (matrix,) = await embed.embed([batch])

    class ReprocessedDuringUpsert:
        """The store, with a reprocess landing while the upsert is in flight."""

        def __getattr__(self, name: str) -> Any:
            return getattr(vectors, name)

        async def upsert(self, chunks: Any, matrix: Any, windows: Any = None) -> None:
            await vectors.upsert(chunks, matrix, windows)
            await docs.reset_for_reprocess(tenant, doc.id)

    racing = EmbedService(docs, ReprocessedDuringUpsert(), embed._embedder, publisher)  # type: ignore[arg-type]
    await racing.commit(batch, matrix)
    assert await vectors.count(tenant_id=tenant, document_id=doc.id) == 0
    row = await docs.get(tenant, doc.id)
    assert (row.version, row.chunks_embedded) == (2, 0)
