"""A building index version's progress, its switch, and the versions left to drop.

A build needs every document the tenant can search, at its searchable version
(``documents.status <> 'deleted'`` with a ``searchable_version``): its *build set*.
ingest_svc replays those it lacks (:meth:`IndexRebuilds.to_replay`, then
:meth:`IndexRebuilds.plan`) and records each one's chunk count
(:meth:`IndexRebuilds.set_total`); embed_svc counts each embedded batch once
(:meth:`IndexRebuilds.record_batch`), as ``document_batches`` does for a document's
own ingestion. The switch (:meth:`IndexRebuilds.try_switch`) is one transaction
under the tenant's pointer lock.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from ragbus.stores.document_records import DocumentRecord
from ragbus.stores.index_versions import bump_index_version_sql
from ragbus.stores.postgres import pg_errors
from ragbus.stores.vector_indexes import UNREPLAYABLE, VectorIndex
from schemas.documents import Progress

REPLAY_STALE_S = 150.0
"""A replayed document not done after this long is replayed again; longer than the
streams' two-minute duplicate window, so the new publish is not dropped as a duplicate."""

# The build set of tenant $1 joined to index $2's entries at each searchable version.
_BUILD_SET = """documents d LEFT JOIN index_documents i
    ON i.index_id = $2 AND i.document_id = d.id AND i.version = d.searchable_version
    WHERE d.tenant_id = $1 AND d.status <> 'deleted' AND d.searchable_version IS NOT NULL"""
# Documents whose own ingestion has read (or may read) the active version: a switch
# waits until none is left. ``uploaded`` has read nothing yet (ingest_svc reads the
# active version after marking the document ``parsing``).
_SWITCH_CHECK = f"""SELECT
    (SELECT count(*) FROM documents WHERE tenant_id = $1
        AND status IN ('parsing', 'embedding'))::integer AS in_flight,
    (SELECT count(*) FROM {_BUILD_SET} AND i.done_at IS NULL)::integer AS missing"""


@dataclass(frozen=True, slots=True)
class SwitchCheck:
    """Why an index version is not switched to yet (both 0: it can be).

    Attributes:
        in_flight: The tenant's documents being parsed or embedded into the active
            version right now.
        missing: Documents of the build set not indexed in the new version yet.
    """

    in_flight: int
    missing: int

    @property
    def ready(self) -> bool:
        """Every document is in the new version and nothing is written to the old one."""
        return self.in_flight == 0 and self.missing == 0


@dataclass(frozen=True, slots=True)
class BatchCount:
    """A replayed document's progress in chunks after a batch, and whether it just completed."""

    progress: Progress
    completed: bool


class IndexRebuilds:
    """Progress and switch of builds; the cross-tenant reads of embed_svc's keeper.

    Every method raises :class:`~ragbus.errors.RetryableError` when Postgres is
    unreachable.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @pg_errors
    async def to_replay(
        self, index: VectorIndex, *, stale_after_s: float, limit: int = 500
    ) -> list[DocumentRecord]:
        """Documents of the build set to replay: never replayed at their searchable
        version, or replayed and not done within ``stale_after_s``, oldest first.

        Only replayable ones (a stored blob of the searchable version); see
        :meth:`unreplayable`.
        """
        rows = await self._pool.fetch(
            f"""SELECT d.* FROM {_BUILD_SET}
                  AND d.blob_key IS NOT NULL AND d.version = d.searchable_version
                  AND (i.document_id IS NULL OR (i.done_at IS NULL
                       AND i.updated_at < now() - make_interval(secs => $3)))
                ORDER BY d.created_at, d.id LIMIT $4""",
            *(index.tenant_id, index.id, stale_after_s, limit),
        )
        return [DocumentRecord.from_row(r) for r in rows]

    @pg_errors
    async def unreplayable(self, tenant_id: str) -> int:
        """The tenant's searchable documents that cannot be replayed (no stored bytes of
        the searchable version); a build cannot complete while there are any."""
        return int(await self._pool.fetchval(UNREPLAYABLE, tenant_id))

    @pg_errors
    async def plan(self, index: VectorIndex, documents: Sequence[tuple[UUID, int]]) -> None:
        """Record that ``(document, version)`` pairs were (re)played into ``index`` now."""
        await self._pool.executemany(
            """INSERT INTO index_documents (index_id, tenant_id, document_id, version)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (index_id, document_id, version) DO UPDATE SET updated_at = now()""",
            [(index.id, index.tenant_id, doc, version) for doc, version in documents],
        )

    @pg_errors
    async def set_total(
        self, index: VectorIndex, document_id: UUID, version: int, chunks: int
    ) -> bool:
        """Record a replayed document's chunk count; False when the build is over."""
        done = await self._pool.fetchval(
            """INSERT INTO index_documents (index_id, tenant_id, document_id, version, chunks_total)
               SELECT id, tenant_id, $3, $4, $5 FROM vector_indexes
               WHERE id = $1 AND tenant_id = $2 AND status = 'building'
               ON CONFLICT (index_id, document_id, version)
               DO UPDATE SET chunks_total = EXCLUDED.chunks_total, updated_at = now()
               RETURNING true""",
            *(index.id, index.tenant_id, document_id, version, chunks),
        )
        return bool(done)

    @pg_errors
    async def record_batch(
        self, index: VectorIndex, document_id: UUID, version: int, batch_index: int, chunks: int
    ) -> BatchCount | None:
        """Count an embedded batch of a replayed document once (a redelivery counts nothing).

        Returns:
            The document's progress, and whether this batch completed it; None when
            the build is over or the document was never replayed at ``version``.
        """
        key = (index.id, document_id, version)
        async with self._pool.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(
                """SELECT i.chunks_total, i.chunks_embedded, i.done_at, v.status
                   FROM index_documents i JOIN vector_indexes v ON v.id = i.index_id
                   WHERE i.index_id = $1 AND i.document_id = $2 AND i.version = $3
                     AND v.tenant_id = $4 FOR UPDATE OF i""",
                *key,
                index.tenant_id,
            )
            if current is None or current["status"] != "building":
                return None
            inserted = await conn.execute(
                """INSERT INTO index_batches (index_id, document_id, version, batch_index,
                       chunk_count) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
                *key,
                batch_index,
                chunks,
            )
            if inserted == "INSERT 0 0":
                total, done = current["chunks_total"] or 0, current["chunks_embedded"]
                return BatchCount(Progress(done=done, total=total), completed=False)
            row = await conn.fetchrow(
                """UPDATE index_documents i SET updated_at = now(),
                       chunks_embedded = b.n,
                       done_at = CASE WHEN b.n >= i.chunks_total THEN coalesce(done_at, now()) END
                   FROM (SELECT coalesce(sum(chunk_count), 0)::integer AS n FROM index_batches
                         WHERE index_id = $1 AND document_id = $2 AND version = $3) b
                   WHERE i.index_id = $1 AND i.document_id = $2 AND i.version = $3
                   RETURNING i.chunks_embedded, i.chunks_total, i.done_at""",
                *key,
            )
        progress = Progress(done=row["chunks_embedded"], total=row["chunks_total"] or 0)
        return BatchCount(progress, current["done_at"] is None and row["done_at"] is not None)

    @pg_errors
    async def progress(self, index: VectorIndex) -> Progress:
        """Documents of the build set indexed in ``index``, out of the whole set."""
        row = await self._pool.fetchrow(
            f"""SELECT count(*)::integer AS total, count(i.done_at)::integer AS done
                FROM {_BUILD_SET}""",
            index.tenant_id,
            index.id,
        )
        return Progress(done=row["done"], total=row["total"])

    @pg_errors
    async def check(self, index: VectorIndex) -> SwitchCheck:
        """What keeps ``index`` from being switched to now (see :class:`SwitchCheck`)."""
        row = await self._pool.fetchrow(_SWITCH_CHECK, index.tenant_id, index.id)
        return SwitchCheck(row["in_flight"], row["missing"])

    @pg_errors
    async def try_switch(self, index: VectorIndex) -> SwitchCheck | None:
        """Make ``index`` the tenant's active version if it is ready, in one transaction.

        Under the pointer row's lock: ``index`` must still be the one being built,
        every document of the build set must be done in it, and no document may be
        parsing or embedding (its own chunks would go to the version it read as
        active). Then the old version is ``retired``, ``index`` ``active``, the
        pointer moved, the answer cache's counter bumped and, when the version chose
        a chunking, every indexed document's ``chunking`` set to it.

        Returns:
            The check; ``ready`` means switched by this call. None when ``index``
            is not being built any more (switched, aborted or failed).
        """
        tenant = index.tenant_id
        async with self._pool.acquire() as conn, conn.transaction():
            pointer = await conn.fetchrow(
                "SELECT * FROM tenant_vector_index WHERE tenant_id = $1 FOR UPDATE", tenant
            )
            if pointer is None or pointer["building_id"] != index.id:
                return None
            row = await conn.fetchrow(_SWITCH_CHECK, tenant, index.id)
            check = SwitchCheck(row["in_flight"], row["missing"])
            if not check.ready:
                return check
            await conn.execute(
                """UPDATE vector_indexes SET status = 'retired', retired_at = now(),
                       updated_at = now() WHERE id = $1""",
                pointer["active_id"],
            )
            await conn.execute(
                """UPDATE vector_indexes SET status = 'active', switched_at = now(),
                       updated_at = now() WHERE id = $1""",
                index.id,
            )
            await conn.execute(
                """UPDATE tenant_vector_index SET active_id = $2, building_id = NULL,
                       updated_at = now() WHERE tenant_id = $1""",
                *(tenant, index.id),
            )
            await conn.execute(bump_index_version_sql("(SELECT 1) AS switched"), tenant)
            if index.chunking is not None:
                await conn.execute(
                    """UPDATE documents SET chunking = $2
                       WHERE tenant_id = $1 AND status = 'indexed'""",
                    *(tenant, index.chunking),
                )
        return check

    @pg_errors
    async def building(self) -> list[VectorIndex]:
        """Every tenant's builds in progress (embed_svc's keeper)."""
        rows = await self._pool.fetch("SELECT * FROM vector_indexes WHERE status = 'building'")
        return [VectorIndex.from_row(r) for r in rows]

    @pg_errors
    async def to_drop(self, grace_s: float) -> list[VectorIndex]:
        """Versions whose vectors can go: aborted or failed builds, and versions retired
        more than ``grace_s`` ago (queries that read them before the switch are done)."""
        rows = await self._pool.fetch(
            """SELECT * FROM vector_indexes WHERE status IN ('aborted', 'failed')
                  OR (status = 'retired' AND retired_at < now() - make_interval(secs => $1))
               ORDER BY id""",
            grace_s,
        )
        return [VectorIndex.from_row(r) for r in rows]

    @pg_errors
    async def mark_dropped(self, index: VectorIndex) -> bool:
        """Record that the version's vectors are gone; False if it was not droppable."""
        result = await self._pool.execute(
            """UPDATE vector_indexes SET status = 'dropped', dropped_at = now(), updated_at = now()
               WHERE id = $1 AND status IN ('retired', 'aborted', 'failed')""",
            index.id,
        )
        return result != "UPDATE 0"
