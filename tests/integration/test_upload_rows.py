"""The upload half of the document repository against a real Postgres: dedup under
concurrency, enqueue records, and rows of uploads nobody got."""

import asyncio
import uuid

import pytest

from ragbus.stores.documents import DocumentRepository
from schemas.documents import DocumentStatus

pytestmark = pytest.mark.integration

SHA = "cd" * 32


@pytest.fixture
def docs(pool):
    return DocumentRepository(pool)


@pytest.fixture
def tenant():
    return f"tenant-{uuid.uuid4().hex[:8]}"


def _row(sha256: str = SHA) -> dict:
    return dict(
        sha256=sha256,
        filename="a.md",
        content_type="text/markdown",
        size_bytes=3,
        blob_key="k",
        metadata={},
        uploaded_by=None,
    )


async def test_concurrent_identical_uploads_make_one_document(docs, tenant):
    ids = [uuid.uuid4() for _ in range(50)]
    results = await asyncio.gather(*(docs.create_or_find(tenant, i, **_row()) for i in ids))
    created = [record for record, made in results if made]
    assert len(created) == 1
    assert {record.id for record, _ in results} == {created[0].id}
    assert created[0].enqueued_version is None
    count = await docs._pool.fetchval("SELECT count(*) FROM documents WHERE tenant_id = $1", tenant)
    assert count == 1
    other, made = await docs.create_or_find(f"{tenant}-b", uuid.uuid4(), **_row())
    assert made and other.id != created[0].id  # dedup is per tenant


async def test_mark_enqueued_is_recorded_once_per_version(docs, tenant):
    record, _ = await docs.create_or_find(tenant, uuid.uuid4(), **_row())
    marks = await asyncio.gather(*(docs.mark_enqueued(tenant, record.id, 1) for _ in range(10)))
    assert marks.count(True) == 1
    assert (await docs.get(tenant, record.id)).enqueued_version == 1
    assert not await docs.mark_enqueued(tenant, record.id, 2)  # not its version


async def test_listing_hides_uploads_never_enqueued(docs, tenant):
    hidden, _ = await docs.create_or_find(tenant, uuid.uuid4(), **_row("01" * 32))
    shown, _ = await docs.create_or_find(tenant, uuid.uuid4(), **_row("02" * 32))
    await docs.mark_enqueued(tenant, shown.id, 1)
    from_event, _ = await docs.create(tenant, uuid.uuid4(), filename="inline.md")
    assert from_event.enqueued_version == 1  # made from document.uploaded itself
    listed = {r.id for r in await docs.list(tenant)}
    assert listed == {shown.id, from_event.id}
    assert hidden.id not in listed and await docs.get(tenant, hidden.id) is not None
    # A retry of the same bytes finds the hidden row instead of making another.
    again, made = await docs.create_or_find(tenant, uuid.uuid4(), **_row("01" * 32))
    assert (again.id, made) == (hidden.id, False)


async def test_delete_abandoned_removes_only_rows_never_enqueued(docs, tenant):
    abandoned, _ = await docs.create_or_find(tenant, uuid.uuid4(), **_row("03" * 32))
    enqueued, _ = await docs.create_or_find(tenant, uuid.uuid4(), **_row("04" * 32))
    await docs.mark_enqueued(tenant, enqueued.id, 1)
    parsing, _ = await docs.create_or_find(tenant, uuid.uuid4(), **_row("05" * 32))
    await docs.set_status(tenant, parsing.id, DocumentStatus.PARSING)  # its message got through
    assert await docs.delete_abandoned(tenant, abandoned.id)
    assert not await docs.delete_abandoned(tenant, enqueued.id)
    assert not await docs.delete_abandoned(tenant, parsing.id)
    assert await docs.get(tenant, abandoned.id) is None
    assert await docs.get(tenant, enqueued.id) is not None
    assert await docs.get(tenant, parsing.id) is not None
