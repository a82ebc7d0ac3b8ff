"""The answer cache store and the index version against a real Postgres."""

import uuid

import pytest

from gateway.answer_cache_store import AnswerCacheRepository
from ragbus.stores.documents import DocumentRepository

pytestmark = pytest.mark.integration

ANSWER = {"answer": "Call kill [1].", "found": True}


@pytest.fixture
def tenant():
    return f"cache-{uuid.uuid4().hex[:8]}"


async def _indexed(docs: DocumentRepository, tenant: str) -> uuid.UUID:
    doc, _ = await docs.create(tenant, uuid.uuid4(), filename="a.md")
    parsed = dict(version=1, chunks_total=1, title=None, parser="md", page_count=None)
    assert await docs.set_parsed(tenant, doc.id, **parsed)
    await docs.record_batch(tenant, doc.id, version=1, batch_index=0, chunk_count=1)
    assert await docs.mark_indexed(tenant, doc.id, version=1) is not None
    return doc.id


async def test_indexing_and_deleting_bump_the_version_exactly_once(pool, tenant) -> None:
    cache, docs = AnswerCacheRepository(pool), DocumentRepository(pool)
    assert await cache.index_version(tenant) == 0
    doc_id = await _indexed(docs, tenant)
    assert await cache.index_version(tenant) == 1
    assert await docs.mark_indexed(tenant, doc_id, version=1) is None  # no transition
    assert await cache.index_version(tenant) == 1
    deleted = await docs.mark_deleted(tenant, doc_id)
    assert deleted is not None and deleted.status.value == "deleted"
    assert await cache.index_version(tenant) == 2
    await docs.mark_deleted(tenant, doc_id)  # idempotent: nothing changes
    assert await cache.index_version(tenant) == 2
    assert await cache.index_version(f"{tenant}-other") == 0


async def test_an_entry_is_served_only_at_its_index_version(pool, tenant) -> None:
    cache, docs = AnswerCacheRepository(pool), DocumentRepository(pool)
    miss = await cache.lookup(tenant, "k", max_age_s=60)
    assert miss.answer is None and miss.index_version == 0
    query_id = uuid.uuid4()
    assert await cache.store(tenant, "k", index_version=0, query_id=query_id, answer=ANSWER)
    hit = await cache.lookup(tenant, "k", max_age_s=60)
    assert hit.answer == ANSWER and hit.query_id == query_id
    assert (await cache.lookup(f"{tenant}-other", "k", max_age_s=60)).answer is None

    await _indexed(docs, tenant)
    stale = await cache.lookup(tenant, "k", max_age_s=60)
    assert stale.answer is None and stale.index_version == 1
    # A slow answer from before the ingest never replaces a newer one.
    newer = {"answer": "newer", "found": True}
    assert await cache.store(tenant, "k", index_version=1, query_id=query_id, answer=newer)
    assert not await cache.store(tenant, "k", index_version=0, query_id=query_id, answer=ANSWER)
    assert (await cache.lookup(tenant, "k", max_age_s=60)).answer == newer


async def test_prune_drops_old_and_excess_entries(pool, tenant) -> None:
    cache = AnswerCacheRepository(pool)
    for i in range(3):
        await cache.store(tenant, f"p{i}", index_version=0, query_id=uuid.uuid4(), answer=ANSWER)
    await pool.execute(
        "UPDATE answer_cache SET created_at = now() - interval '2 hours' "
        "WHERE tenant_id = $1 AND key = 'p0'",
        tenant,
    )
    assert (await cache.lookup(tenant, "p0", max_age_s=3600)).answer is None  # expired
    await cache.prune(max_age_s=3600, max_entries=1_000_000)
    left = await pool.fetch("SELECT key FROM answer_cache WHERE tenant_id = $1", tenant)
    assert sorted(r["key"] for r in left) == ["p1", "p2"]
    await cache.prune(max_age_s=3600, max_entries=0)
    assert await pool.fetchval("SELECT count(*) FROM answer_cache") == 0
