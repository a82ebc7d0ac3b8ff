"""One contract test for every vector store adapter: Qdrant local mode and pgvector."""

import re
import uuid
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pytest

from ragbus.errors import EmbeddingModelMismatchError
from ragbus.settings import InfraSettings
from ragbus.stores.factory import open_vector_store
from ragbus.stores.vectors.base import ChunkRecord
from ragbus.stores.vectors.pgvector import PgVectorStore

pytestmark = pytest.mark.integration

DIM = 8
MODEL = "test/random-8"
rng = np.random.default_rng(7)


def _unit(n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _chunks(tenant: str, document_id: uuid.UUID, n: int, *, version: int = 1) -> list[ChunkRecord]:
    return [
        ChunkRecord(
            chunk_id=uuid.uuid5(document_id, f"{tenant}/{version}/{i}"),
            tenant_id=tenant,
            document_id=document_id,
            version=version,
            chunk_index=i,
            text=f"chunk {i} of {document_id}",
            filename="doc.pdf",
            title="Doc" if i % 2 else None,
            page=i + 1 if i % 2 else None,
            heading="A > B" if i % 3 == 0 else None,
            token_count=5 + i,
        )
        for i in range(n)
    ]


@pytest.fixture
async def make_store(pool_or_none, tmp_path, unique_name):
    """Open stores of one kind over the same index (same path/collection or table)."""
    name = re.sub(r"[^a-z0-9_]", "_", f"v_{unique_name}".lower())[:40]
    opened = []

    async def make(model_id: str = MODEL, dim: int = DIM):
        if pool_or_none is None:
            settings = InfraSettings(
                data_dir=tmp_path, vector_store="qdrant", qdrant_url=None, qdrant_collection=name
            )
            store = await open_vector_store(settings)
        else:
            store = PgVectorStore(pool_or_none, table=name)
        opened.append(store)
        await store.open(model_id=model_id, dim=dim)
        return store

    yield make
    for store in opened:
        await store.close()


async def test_upsert_is_idempotent_and_round_trips_the_chunk(make_store):
    store = await make_store()
    tenant, doc = f"t-{uuid.uuid4().hex[:6]}", uuid.uuid4()
    chunks, vectors = _chunks(tenant, doc, 300), _unit(300)  # more than one Qdrant batch
    await store.upsert(chunks, vectors)
    await store.upsert(chunks, vectors)
    assert await store.count(tenant_id=tenant) == 300
    assert await store.count(tenant_id=tenant, document_id=doc) == 300
    hits = await store.search(tenant_id=tenant, vector=vectors[42], top_k=3)
    assert hits[0].chunk == chunks[42]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


async def test_search_never_returns_another_tenants_chunk(make_store):
    store = await make_store()
    mine, theirs = f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"
    my_vectors, their_vectors = _unit(5), _unit(5)
    await store.upsert(_chunks(mine, uuid.uuid4(), 5), my_vectors)
    await store.upsert(_chunks(theirs, uuid.uuid4(), 5), their_vectors)
    for query in their_vectors:  # their chunks are the exact matches
        hits = await store.search(tenant_id=mine, vector=query, top_k=10)
        assert len(hits) == 5 and {h.chunk.tenant_id for h in hits} == {mine}
    assert await store.search(tenant_id="nobody", vector=my_vectors[0], top_k=5) == []
    assert await store.count(tenant_id="nobody") == 0
    for bad in ("", None):
        with pytest.raises(ValueError):
            await store.search(tenant_id=bad, vector=my_vectors[0], top_k=5)
        with pytest.raises(ValueError):
            await store.count(tenant_id=bad)
        with pytest.raises(ValueError):
            await store.delete_document(tenant_id=bad, document_id=uuid.uuid4())


async def test_document_ids_filter(make_store):
    store = await make_store()
    tenant, first, second = f"t-{uuid.uuid4().hex[:6]}", uuid.uuid4(), uuid.uuid4()
    vectors = _unit(6)
    await store.upsert(_chunks(tenant, first, 3) + _chunks(tenant, second, 3), vectors)
    hits = await store.search(tenant_id=tenant, vector=vectors[0], top_k=6, document_ids=[second])
    assert len(hits) == 3 and {h.chunk.document_id for h in hits} == {second}
    assert await store.search(tenant_id=tenant, vector=vectors[0], top_k=6, document_ids=[]) == []
    assert len(await store.search(tenant_id=tenant, vector=vectors[0], top_k=4)) == 4


async def test_delete_document_scoped_by_tenant_and_version(make_store):
    store = await make_store()
    tenant, doc = f"t-{uuid.uuid4().hex[:6]}", uuid.uuid4()
    await store.upsert(_chunks(tenant, doc, 4, version=1), _unit(4))
    await store.upsert(_chunks(tenant, doc, 2, version=2), _unit(2))
    await store.delete_document(tenant_id="someone-else", document_id=doc)
    assert await store.count(tenant_id=tenant, document_id=doc) == 6
    await store.delete_document(tenant_id=tenant, document_id=doc, keep_version=2)
    assert await store.count(tenant_id=tenant, document_id=doc) == 2
    await store.delete_document(tenant_id=tenant, document_id=doc)
    await store.delete_document(tenant_id=tenant, document_id=doc)  # idempotent
    assert await store.count(tenant_id=tenant) == 0


async def test_delete_chunks_removes_only_those_of_that_tenant(make_store):
    store = await make_store()
    tenant, doc = f"t-{uuid.uuid4().hex[:6]}", uuid.uuid4()
    chunks = _chunks(tenant, doc, 4)
    await store.upsert(chunks, _unit(4))
    ids = [c.chunk_id for c in chunks[:2]]
    await store.delete_chunks(tenant_id="someone-else", chunk_ids=ids)
    assert await store.count(tenant_id=tenant, document_id=doc) == 4
    await store.delete_chunks(tenant_id=tenant, chunk_ids=ids)
    await store.delete_chunks(tenant_id=tenant, chunk_ids=ids)  # idempotent
    await store.delete_chunks(tenant_id=tenant, chunk_ids=[])
    assert await store.count(tenant_id=tenant, document_id=doc) == 2
    hits = await store.search(tenant_id=tenant, vector=_unit(4)[2], top_k=10)
    assert {h.chunk.chunk_id for h in hits} == {c.chunk_id for c in chunks[2:]}


async def test_reopen_with_another_model_or_dim_is_refused(make_store):
    store = await make_store()
    await store.upsert(_chunks("t", uuid.uuid4(), 1), _unit(1))
    await make_store()  # same model and dim: fine
    with pytest.raises(EmbeddingModelMismatchError, match=r"test/random-8.*dim 8.*dim 16"):
        await make_store(dim=16)
    with pytest.raises(EmbeddingModelMismatchError, match="other/model"):
        await make_store(model_id="other/model")


async def test_shapes_are_checked(make_store):
    store = await make_store()
    with pytest.raises(ValueError):
        await store.upsert(_chunks("t", uuid.uuid4(), 2), _unit(3))
    with pytest.raises(ValueError):
        await store.search(tenant_id="t", vector=np.zeros(DIM + 1, np.float32), top_k=1)


async def test_a_chunk_with_dense_windows_scores_its_best_window(make_store):
    store = await make_store()
    assert store.holds_windows
    tenant, doc = f"t-{uuid.uuid4().hex[:6]}", uuid.uuid4()
    chunks, rows = _chunks(tenant, doc, 3), _unit(6)
    await store.upsert(chunks, rows, [2, 1, 3])  # rows 0-1, 2, 3-5
    for row, owner in [(1, 0), (2, 1), (5, 2), (4, 2)]:
        (best,) = await store.search(tenant_id=tenant, vector=rows[row], top_k=1)
        assert best.chunk == chunks[owner]
        assert best.score == pytest.approx(1.0, abs=1e-5)
    hits = await store.search(tenant_id=tenant, vector=rows[5], top_k=3)
    assert hits[0].chunk.chunk_index == 2
    assert len({h.chunk.chunk_id for h in hits}) == 3  # each chunk once
    assert await store.count(tenant_id=tenant) == 3

    # a re-upsert replaces the windows: chunk 2's old third window is gone
    fresh = _unit(1)
    await store.upsert(chunks[2:], fresh)
    (best,) = await store.search(tenant_id=tenant, vector=rows[5], top_k=1)
    assert best.chunk != chunks[2] or best.score < 0.999
    await store.delete_document(tenant_id=tenant, document_id=doc)
    assert await store.search(tenant_id=tenant, vector=rows[1], top_k=3) == []


async def test_window_counts_are_checked(make_store):
    store = await make_store()
    chunks = _chunks("t", uuid.uuid4(), 2)
    with pytest.raises(ValueError, match=r"shape \(4, 8\); expected \(3, 8\)"):
        await store.upsert(chunks, _unit(4), [1, 2])
    with pytest.raises(ValueError, match="window counts must be in"):
        await store.upsert(chunks, _unit(2), [0, 2])
    with pytest.raises(ValueError, match="1 window counts for 2 chunks"):
        await store.upsert(chunks, _unit(2), [2])


async def test_factory_shares_one_local_qdrant_client_per_path(tmp_path):
    settings = InfraSettings(
        data_dir=tmp_path, vector_store="qdrant", qdrant_url=None, qdrant_collection="chunks"
    )
    first, second = await open_vector_store(settings), await open_vector_store(settings)
    for store in (first, second):  # a second client on the path would hit Qdrant's lock
        await store.open(model_id=MODEL, dim=DIM)
    await first.upsert(_chunks("t", uuid.uuid4(), 3), _unit(3))
    await first.close()
    await first.close()  # idempotent: must not release the shared client twice
    assert await second.count(tenant_id="t") == 3
    await second.close()
    reopened = await open_vector_store(settings)  # the lock was released with the last user
    await reopened.open(model_id=MODEL, dim=DIM)
    assert await reopened.count(tenant_id="t") == 3  # persisted on disk
    await reopened.close()


async def test_factory_builds_pgvector_with_its_own_pool(
    pgvector_database_url, pgvector_pool, unique_name
):
    # A private schema keeps the default table name away from other tests.
    await pgvector_pool.execute(f"CREATE SCHEMA {unique_name}")
    parts = urlsplit(pgvector_database_url)
    query = "&".join(q for q in (parts.query, f"search_path={unique_name},public") if q)
    dsn = urlunsplit(parts._replace(query=query))
    store = await open_vector_store(InfraSettings(vector_store="pgvector", database_url=dsn))
    assert isinstance(store, PgVectorStore)
    try:
        await store.open(model_id=MODEL, dim=DIM)
        await store.upsert(_chunks("t", uuid.uuid4(), 2), _unit(2))
        assert await store.count(tenant_id="t") == 2
        table = f"{unique_name}.chunk_vectors"
        assert await pgvector_pool.fetchval(f"SELECT count(*) FROM {table}") == 2
    finally:
        await store.close()
        await pgvector_pool.execute(f"DROP SCHEMA {unique_name} CASCADE")


async def test_a_tenant_or_the_whole_index_is_dropped(make_store):
    store = await make_store()
    mine, theirs = f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"
    vectors = _unit(3)
    await store.upsert(_chunks(mine, uuid.uuid4(), 3), vectors)
    await store.upsert(_chunks(theirs, uuid.uuid4(), 2), _unit(2))
    await store.delete_tenant(tenant_id=mine)
    await store.delete_tenant(tenant_id=mine)  # idempotent
    assert await store.count(tenant_id=mine) == 0
    assert await store.search(tenant_id=mine, vector=vectors[0], top_k=3) == []
    assert await store.count(tenant_id=theirs) == 2
    await store.drop()
    await store.drop()  # idempotent
    again = await make_store(dim=16)  # the name is free: a new index, another model even
    assert await again.count(tenant_id=theirs) == 0
