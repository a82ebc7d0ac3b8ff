"""Index versions against real Postgres: the pointer, a build's progress, the switch, drops.

The switch is one transaction under the tenant's pointer lock; it waits for every
document of the build set and for no document being ingested into the old version.
"""

import asyncio
import uuid

import pytest

from ragbus.stores.index_rebuilds import IndexRebuilds
from ragbus.stores.vector_indexes import IndexConflictError, VectorIndexes
from schemas import IndexState

pytestmark = pytest.mark.integration


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


async def document(pool, tenant: str, status: str = "indexed", **row) -> uuid.UUID:
    """A document row: indexed at version 1 with a stored blob unless ``row`` says otherwise."""
    doc = uuid.uuid4()
    fields = {"version": 1, "searchable_version": 1, "blob_key": f"{tenant}/{doc}/a.txt", **row}
    if status in ("uploaded", "parsing") and "searchable_version" not in row:
        fields["searchable_version"] = None
    await pool.execute(
        """INSERT INTO documents (tenant_id, id, filename, status, version, searchable_version,
               blob_key) VALUES ($1, $2, 'a.txt', $3, $4, $5, $6)""",
        *(tenant, doc, status, fields["version"], fields["searchable_version"], fields["blob_key"]),
    )
    return doc


async def set_status(pool, tenant: str, doc: uuid.UUID, status: str) -> None:
    await pool.execute(
        "UPDATE documents SET status = $3 WHERE tenant_id = $1 AND id = $2", tenant, doc, status
    )


async def test_a_tenant_that_never_rebuilt_uses_the_deployment_index(pool, tenant) -> None:
    active = await VectorIndexes(pool).active(tenant)
    assert (active.id, active.shared, active.status) == (None, True, IndexState.ACTIVE)
    assert active.collection("ragbus_chunks") == "ragbus_chunks"
    assert await VectorIndexes(pool).live(tenant) == [active]


async def test_a_build_is_a_new_version_beside_the_active_one(pool, tenant) -> None:
    indexes = VectorIndexes(pool)
    build = await indexes.start(tenant, chunking="sentence", created_by="alice")
    active = await indexes.active(tenant)
    assert (active.shared, active.status, build.status) == (True, "active", "building")
    assert build.collection("ragbus_chunks") == f"ragbus_chunks_ix{build.id}"
    assert [v.id for v in await indexes.live(tenant)] == [active.id, build.id]
    with pytest.raises(IndexConflictError, match="being built"):
        await indexes.start(tenant)
    assert await indexes.get("another-tenant", build.id or 0) is None


async def test_documents_that_cannot_be_replayed_refuse_a_build(pool, tenant) -> None:
    await document(pool, tenant, blob_key=None)  # inline text sent over NATS
    with pytest.raises(IndexConflictError, match="1 documents cannot be replayed"):
        await VectorIndexes(pool).start(tenant)
    assert await VectorIndexes(pool).recent(tenant) == []  # nothing was recorded


async def test_the_switch_waits_for_every_document_and_for_ingestion(pool, tenant) -> None:
    indexes, rebuilds = VectorIndexes(pool), IndexRebuilds(pool)
    first, second = await document(pool, tenant), await document(pool, tenant)
    late = await document(pool, tenant, status="uploaded")
    await document(pool, tenant, status="deleted")
    build = await indexes.start(tenant, chunking="sentence")
    assert {r.id for r in await rebuilds.to_replay(build, stale_after_s=60)} == {first, second}
    await rebuilds.plan(build, [(first, 1), (second, 1)])
    assert await rebuilds.to_replay(build, stale_after_s=60) == []
    assert await rebuilds.to_replay(build, stale_after_s=0) != []  # replayed, not done: stale

    assert await rebuilds.set_total(build, first, 1, chunks=2)
    one = await rebuilds.record_batch(build, first, 1, batch_index=0, chunks=1)
    assert one is not None and (one.progress.done, one.completed) == (1, False)
    done = await rebuilds.record_batch(build, first, 1, batch_index=1, chunks=1)
    assert done is not None and (done.progress.done, done.completed) == (2, True)
    again = await rebuilds.record_batch(build, first, 1, batch_index=1, chunks=1)
    assert again is not None and (again.progress.done, again.completed) == (2, False)
    assert (await rebuilds.progress(build)).model_dump() == {"done": 1, "total": 2}
    check = await rebuilds.try_switch(build)
    assert check is not None and (check.missing, check.ready) == (1, False)

    assert await rebuilds.set_total(build, second, 1, chunks=1)
    await rebuilds.record_batch(build, second, 1, batch_index=0, chunks=1)
    await set_status(pool, tenant, late, "parsing")  # its chunks go to the active version
    check = await rebuilds.try_switch(build)
    assert check is not None and (check.in_flight, check.ready) == (1, False)
    assert (await indexes.active(tenant)).id != build.id

    await set_status(pool, tenant, late, "uploaded")  # not read the active version yet
    counter = "SELECT version FROM tenant_index_versions WHERE tenant_id = $1"
    before = await pool.fetchval(counter, tenant)
    check = await rebuilds.try_switch(build)
    assert check is not None and check.ready
    assert (await indexes.active(tenant)).id == build.id
    assert await rebuilds.try_switch(build) is None  # not building any more
    old = (await indexes.recent(tenant))[1]
    assert (old.shared, old.status) == (True, IndexState.RETIRED)
    assert (await pool.fetchval(counter, tenant)) == (before or 0) + 1  # answer cache
    chunking = "SELECT chunking FROM documents WHERE tenant_id = $1 AND id = $2"
    assert await pool.fetchval(chunking, tenant, first) == "sentence"
    assert await pool.fetchval(chunking, tenant, late) is None  # cut when it is ingested

    assert old.id not in {v.id for v in await rebuilds.to_drop(grace_s=3600)}
    assert old.id in {v.id for v in await rebuilds.to_drop(grace_s=0)}
    assert await rebuilds.mark_dropped(old) and not await rebuilds.mark_dropped(old)


async def test_an_abort_ends_the_build_and_leaves_the_active_version(pool, tenant) -> None:
    indexes, rebuilds = VectorIndexes(pool), IndexRebuilds(pool)
    doc = await document(pool, tenant)
    active = (await indexes.start(tenant), await indexes.active(tenant))[1]
    build = (await indexes.recent(tenant))[0]
    await rebuilds.plan(build, [(doc, 1)])
    aborted = await indexes.abort(tenant)
    assert aborted is not None and aborted.status == IndexState.ABORTED
    assert await indexes.abort(tenant) is None
    assert await indexes.active(tenant) == active
    assert not await rebuilds.set_total(build, doc, 1, chunks=1)  # late replays are skipped
    assert await rebuilds.record_batch(build, doc, 1, batch_index=0, chunks=1) is None
    assert await rebuilds.try_switch(build) is None
    assert build.id in {v.id for v in await rebuilds.to_drop(grace_s=3600)}
    assert (await indexes.start(tenant)).status == IndexState.BUILDING  # a new one may start


async def test_a_failed_build_is_only_the_named_one(pool, tenant) -> None:
    indexes = VectorIndexes(pool)
    build = await indexes.start(tenant)
    assert build.id is not None
    assert await indexes.fail(tenant, build.id + 1000, "not this one") is None
    failed = await indexes.fail(tenant, build.id, "x.pdf: parse_failed")
    assert failed is not None and (failed.status, failed.error) == ("failed", "x.pdf: parse_failed")
    assert (await indexes.active(tenant)).id != build.id


async def test_a_writer_of_the_active_version_waits_for_a_switch_in_progress(pool, tenant) -> None:
    indexes = VectorIndexes(pool)
    build = await indexes.start(tenant)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT * FROM tenant_vector_index WHERE tenant_id = $1 FOR UPDATE", tenant
        )
        plain = await indexes.active(tenant)  # a query reads the current one at once
        writer = asyncio.create_task(indexes.active(tenant, wait_for_switch=True))
        await asyncio.sleep(0.3)
        assert not writer.done()
        await conn.execute(
            "UPDATE tenant_vector_index SET active_id = $2, building_id = NULL"
            " WHERE tenant_id = $1",
            *(tenant, build.id),
        )
    assert plain.id != build.id
    assert (await writer).id == build.id
