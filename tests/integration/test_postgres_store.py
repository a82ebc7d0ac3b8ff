"""Postgres repositories against a real server: migrations, lifecycle guards, tenancy."""

import asyncio
import uuid
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

from ragbus.errors import PermanentError, RetryableError
from ragbus.stores.documents import DocumentRepository
from ragbus.stores.postgres import create_pool, load_migrations, migrate
from ragbus.stores.queries import QueryRepository
from schemas.documents import DocumentStatus, Progress

pytestmark = pytest.mark.integration

SHA = "ab" * 32


def _with_search_path(dsn: str, schema: str) -> str:
    """The DSN with ``search_path`` set (asyncpg passes unknown params as server settings)."""
    parts = urlsplit(dsn)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({"search_path": schema})))


@pytest.fixture
def docs(pool):
    return DocumentRepository(pool)


@pytest.fixture
def tenant():
    return f"tenant-{uuid.uuid4().hex[:8]}"


async def _new(docs, tenant, **kw):
    record, created = await docs.create(tenant, uuid.uuid4(), filename="a.md", **kw)
    assert created
    return record


async def _parse(docs, tenant, doc_id, *, chunks_total):
    parsed = dict(version=1, chunks_total=chunks_total, title=None, parser="md", page_count=None)
    assert await docs.set_parsed(tenant, doc_id, **parsed)


async def test_migrations_are_idempotent_and_safe_concurrently(database_url, pool):
    schema = f"m_{uuid.uuid4().hex[:10]}"
    await pool.execute(f"CREATE SCHEMA {schema}")
    dsn = _with_search_path(database_url, schema)
    pools = [await create_pool(dsn, max_size=2) for _ in range(3)]
    try:
        runs = await asyncio.gather(*(migrate(p) for p in pools))
        versions = [m.version for m in load_migrations()]
        assert sorted(v for run in runs for v in run) == versions  # each applied exactly once
        assert await migrate(pools[0]) == []
        ledger = await pools[0].fetch("SELECT version, name FROM schema_migrations ORDER BY 1")
        assert [r["version"] for r in ledger] == versions
        assert ledger[0]["name"] == "init"
        assert await pools[0].fetchval(f"SELECT to_regclass('{schema}.documents') IS NOT NULL")
    finally:
        for p in pools:
            await p.close()
        await pool.execute(f"DROP SCHEMA {schema} CASCADE")


async def test_create_pool_gives_up_with_retryable_error():
    with pytest.raises(RetryableError, match="after 2 attempts"):
        await create_pool("postgresql://postgres@127.0.0.1:1/x", attempts=2, backoff_s=0.01)


async def test_create_pool_unknown_database_is_permanent(database_url):
    parts = urlsplit(database_url)
    dsn = urlunsplit(parts._replace(path=f"/missing_{uuid.uuid4().hex[:8]}"))
    with pytest.raises(PermanentError):
        await create_pool(dsn, attempts=1)


async def test_create_is_insert_if_absent_and_dedups_by_sha256(docs, tenant):
    doc_id = uuid.uuid4()
    first, created = await docs.create(
        tenant, doc_id, filename="a.pdf", sha256=SHA, size_bytes=10, metadata={"k": [1]}
    )
    assert created and first.status is DocumentStatus.UPLOADED and first.metadata == {"k": [1]}
    again, created = await docs.create(tenant, doc_id, filename="other.pdf", sha256=SHA)
    assert not created and again == first
    assert (await docs.find_by_sha256(tenant, SHA)).id == doc_id
    assert await docs.find_by_sha256("other-tenant", SHA) is None
    assert await docs.set_status(tenant, doc_id, DocumentStatus.FAILED, error="bad", error_code="x")
    assert await docs.find_by_sha256(tenant, SHA) is None  # failed documents are not duplicates


async def test_guarded_transitions_and_deleted_is_final(docs, tenant):
    doc = await _new(docs, tenant)
    S = DocumentStatus
    assert await docs.set_status(tenant, doc.id, S.PARSING)
    assert not await docs.set_status(tenant, doc.id, S.PARSING)  # redelivery: no change
    parsed = dict(version=1, chunks_total=2, title="T", parser="md", page_count=None)
    assert await docs.set_parsed(tenant, doc.id, **parsed)
    assert not await docs.set_parsed(tenant, doc.id, **parsed)
    assert not await docs.set_status(tenant, doc.id, S.PARSING)  # never backwards
    with pytest.raises(ValueError):
        await docs.set_status(tenant, doc.id, S.INDEXED)
    deleted = await docs.mark_deleted(tenant, doc.id)
    assert deleted.status is S.DELETED
    assert (await docs.mark_deleted(tenant, doc.id)).status is S.DELETED  # idempotent
    for status in (S.PARSING, S.EMBEDDING, S.FAILED, S.DELETED):
        assert not await docs.set_status(tenant, doc.id, status)
    assert not await docs.set_parsed(tenant, doc.id, **parsed)
    assert await docs.record_batch(tenant, doc.id, version=1, batch_index=0, chunk_count=2) is None
    assert await docs.reset_for_reprocess(tenant, doc.id) is None
    assert (await docs.get(tenant, doc.id)).status is S.DELETED
    assert await docs.visible_versions(tenant, [doc.id]) == {}
    assert [d.id for d in await docs.list(tenant)] == []
    assert [d.id for d in await docs.list(tenant, include_deleted=True)] == [doc.id]


async def test_record_batch_never_double_counts(docs, tenant):
    doc = await _new(docs, tenant)
    await _parse(docs, tenant, doc.id, chunks_total=100)
    batch = dict(version=1, batch_index=0, chunk_count=64)
    assert await docs.record_batch(tenant, doc.id, **batch) == Progress(done=64, total=100)
    assert await docs.record_batch(tenant, doc.id, **batch) == Progress(done=64, total=100)
    assert await docs.record_batch(tenant, doc.id, version=2, batch_index=1, chunk_count=36) is None
    done = await docs.record_batch(tenant, doc.id, version=1, batch_index=1, chunk_count=36)
    assert done == Progress(done=100, total=100)


async def test_concurrent_batches_all_count(docs, tenant):
    doc = await _new(docs, tenant)
    await _parse(docs, tenant, doc.id, chunks_total=20 * 3)
    calls = [
        docs.record_batch(tenant, doc.id, version=1, batch_index=i % 20, chunk_count=3)
        for i in range(40)  # every batch delivered twice, concurrently
    ]
    progress = await asyncio.gather(*calls)
    assert max(p.done for p in progress) == 60
    assert (await docs.get(tenant, doc.id)).chunks_embedded == 60


async def test_count_batch_indexes_the_version_exactly_once(docs, tenant, pool):
    doc = await _new(docs, tenant)
    await _parse(docs, tenant, doc.id, chunks_total=20 * 3)
    calls = [
        docs.count_batch(tenant, doc.id, version=1, batch_index=i % 20, chunk_count=3)
        for i in range(40)  # every batch delivered twice, concurrently
    ]
    counted = await asyncio.gather(*calls)
    assert all(c is not None for c in counted)
    assert max(progress.done for progress, _ in counted) == 60
    winners = [at for _, at in counted if at is not None]
    assert len(winners) == 1  # exactly one delivery indexed the version
    row = await docs.get(tenant, doc.id)
    assert row.status is DocumentStatus.INDEXED and row.indexed_at == winners[0]
    assert (row.chunks_embedded, row.searchable_version) == (60, 1)
    bumps = "SELECT version FROM tenant_index_versions WHERE tenant_id = $1"
    assert await pool.fetchval(bumps, tenant) == 1  # the answer cache's key moved once
    again = await docs.count_batch(tenant, doc.id, version=1, batch_index=0, chunk_count=3)
    assert again == (Progress(done=60, total=60), None)
    assert await docs.count_batch(tenant, doc.id, version=2, batch_index=0, chunk_count=3) is None


async def test_batch_states_read_a_pull_at_once(docs, tenant):
    indexed, deleted = await _new(docs, tenant), await _new(docs, tenant, sha256=SHA)
    await _parse(docs, tenant, indexed.id, chunks_total=1)
    await docs.count_batch(tenant, indexed.id, version=1, batch_index=0, chunk_count=1)
    await docs.mark_deleted(tenant, deleted.id)
    missing = uuid.uuid4()
    keys = [(tenant, indexed.id), (tenant, deleted.id), (tenant, missing), ("other", indexed.id)]

    states = await docs.batch_states(keys)

    assert set(states) == {(tenant, indexed.id), (tenant, deleted.id)}
    state = states[(tenant, indexed.id)]
    assert state.wants(1, replay=False) and state.wants(1, replay=True)
    assert not state.wants(2, replay=False) and not state.wants(2, replay=True)
    assert not states[(tenant, deleted.id)].wants(1, replay=False)


async def test_mark_indexed_transitions_exactly_once(docs, tenant):
    doc = await _new(docs, tenant)
    await _parse(docs, tenant, doc.id, chunks_total=2)
    await docs.record_batch(tenant, doc.id, version=1, batch_index=0, chunk_count=1)
    assert await docs.mark_indexed(tenant, doc.id, version=1) is None  # not complete yet
    await docs.record_batch(tenant, doc.id, version=1, batch_index=1, chunk_count=1)
    attempts = [docs.mark_indexed(tenant, doc.id, version=1) for _ in range(5)]
    results = await asyncio.gather(*attempts)
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    row = await docs.get(tenant, doc.id)
    assert row.status is DocumentStatus.INDEXED and row.indexed_at == winners[0]
    assert not await docs.set_status(tenant, doc.id, DocumentStatus.EMBEDDING)
    assert not await docs.set_status(tenant, doc.id, DocumentStatus.FAILED)


async def test_reset_for_reprocess_starts_a_new_version(docs, tenant):
    doc = await _new(docs, tenant)
    await _parse(docs, tenant, doc.id, chunks_total=1)
    await docs.record_batch(tenant, doc.id, version=1, batch_index=0, chunk_count=1)
    assert await docs.mark_indexed(tenant, doc.id, version=1) is not None
    reset = await docs.reset_for_reprocess(tenant, doc.id)
    assert reset.status is DocumentStatus.UPLOADED and reset.version == 2
    assert (reset.chunks_total, reset.chunks_embedded, reset.indexed_at) == (0, 0, None)
    assert reset.searchable_version == 1  # version 1 stays searchable meanwhile
    assert await docs.visible_versions(tenant, [doc.id]) == {doc.id: 1}
    assert await docs.record_batch(tenant, doc.id, version=1, batch_index=0, chunk_count=1) is None
    assert await docs.set_status(tenant, doc.id, DocumentStatus.PARSING)


async def test_a_version_is_visible_only_once_indexed(docs, tenant):
    doc = await _new(docs, tenant)
    assert await docs.visible_versions(tenant, [doc.id]) == {}  # nothing indexed yet
    await _parse(docs, tenant, doc.id, chunks_total=1)
    await docs.record_batch(tenant, doc.id, version=1, batch_index=0, chunk_count=1)
    assert await docs.visible_versions(tenant, [doc.id]) == {}
    await docs.mark_indexed(tenant, doc.id, version=1)
    assert await docs.visible_versions(tenant, [doc.id, uuid.uuid4()]) == {doc.id: 1}


async def test_new_version_replaces_content_and_keeps_the_old_one_searchable(docs, tenant):
    doc = await _new(docs, tenant, sha256=SHA, external_id="handbook")
    assert (await docs.find_by_external_id(tenant, "handbook")).id == doc.id
    assert await docs.find_by_external_id(f"{tenant}-other", "handbook") is None
    await _parse(docs, tenant, doc.id, chunks_total=1)
    await docs.record_batch(tenant, doc.id, version=1, batch_index=0, chunk_count=1)
    await docs.mark_indexed(tenant, doc.id, version=1)
    content = dict(sha256="cd" * 32, size_bytes=3, blob_key="k2", filename="b.md")
    v2 = await docs.new_version(
        tenant, doc.id, **content, content_type="text/markdown", metadata={"v": 2}
    )
    assert (v2.version, v2.status, v2.searchable_version) == (2, DocumentStatus.UPLOADED, 1)
    assert (v2.sha256, v2.blob_key, v2.filename, v2.metadata) == ("cd" * 32, "k2", "b.md", {"v": 2})
    assert (v2.chunks_total, v2.chunks_embedded, v2.external_id) == (0, 0, "handbook")
    assert await docs.set_status(tenant, doc.id, DocumentStatus.FAILED, error="x", error_code="y")
    assert await docs.visible_versions(tenant, [doc.id]) == {doc.id: 1}  # a failed v2 hides nothing
    await docs.mark_deleted(tenant, doc.id)
    assert await docs.new_version(tenant, doc.id, **content, content_type=None, metadata={}) is None
    assert await docs.find_by_external_id(tenant, "handbook") is None  # the key is free again
    again = await _new(docs, tenant, external_id="handbook")
    assert (await docs.find_by_external_id(tenant, "handbook")).id == again.id


async def test_a_taken_external_id_returns_its_holder(docs, tenant):
    holder = await _new(docs, tenant, external_id="k")
    record, created = await docs.create(tenant, uuid.uuid4(), filename="b.md", external_id="k")
    assert not created and record.id == holder.id


async def test_other_tenants_cannot_see_or_change_a_document(docs, tenant):
    doc = await _new(docs, tenant, sha256=SHA)
    other = f"{tenant}-other"
    assert await docs.get(other, doc.id) is None
    assert await docs.list(other) == []
    assert not await docs.set_status(other, doc.id, DocumentStatus.FAILED)
    assert await docs.mark_deleted(other, doc.id) is None
    assert await docs.reset_for_reprocess(other, doc.id) is None
    assert (
        await docs.new_version(
            other,
            doc.id,
            sha256=SHA,
            size_bytes=1,
            blob_key="k",
            filename="x.md",
            content_type=None,
            metadata={},
        )
        is None
    )
    await _parse(docs, tenant, doc.id, chunks_total=1)
    await docs.record_batch(tenant, doc.id, version=1, batch_index=0, chunk_count=1)
    await docs.mark_indexed(tenant, doc.id, version=1)
    assert await docs.visible_versions(other, [doc.id]) == {}  # unknown to them
    assert await docs.visible_versions(tenant, [doc.id]) == {doc.id: 1}
    assert (await docs.get(tenant, doc.id)).status is DocumentStatus.INDEXED


async def test_queries_complete_or_fail_once(pool, tenant):
    queries = QueryRepository(pool)
    qid = uuid.uuid4()
    created, is_new = await queries.create(tenant, qid, question="why?", top_k=5, user_id="u1")
    assert is_new and created.status == "pending"
    _, is_new = await queries.create(tenant, qid, question="changed", top_k=1)
    assert not is_new
    citation = {"n": 1, "document_id": str(uuid.uuid4()), "filename": "a.md", "score": 0.5}
    done = dict(answer="because [1]", citations=[citation], timings={"total_ms": 12.5})
    assert await queries.complete(tenant, qid, **done, model="extractive", found=True)
    assert not await queries.complete(tenant, qid, **done, model="other", found=False)
    assert not await queries.fail(tenant, qid, code="x", error="late failure")
    row = await queries.get(tenant, qid)
    assert (row.status, row.question, row.citations) == ("answered", "why?", [citation])
    assert row.timings == {"total_ms": 12.5}
    assert row.completed_at is not None and row.model == "extractive"
    assert await queries.get(f"{tenant}-other", qid) is None
    failed = uuid.uuid4()
    await queries.create(tenant, failed, question="q", top_k=1)
    assert await queries.fail(tenant, failed, code="no_model", error="model missing")
    assert [q.id for q in await queries.list(tenant, 10)] == [failed, qid]


async def test_database_errors_on_a_closed_pool_are_retryable(database_url, tenant):
    closed = await create_pool(database_url, max_size=1)
    await closed.close()
    with pytest.raises(RetryableError):
        await DocumentRepository(closed).get(tenant, uuid.uuid4())


async def test_a_released_connection_keeps_no_transaction_or_local_setting(database_url):
    """The pool skips asyncpg's reset query, yet nothing leaks to the next user."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            await conn.execute("BEGIN")  # left open, as a failed handler might
            await conn.execute("SET LOCAL statement_timeout = '1234ms'")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") == pid  # the same one
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SHOW statement_timeout") != "1234ms"
    finally:
        await pool.close()
