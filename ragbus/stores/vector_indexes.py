"""Index versions in Postgres: each tenant's active one, the one being built, and the
guarded moves that start, abort or fail a build.

An index version is a row of ``vector_indexes``: the embedding model and precision
its vectors come from, the chunking its chunks were cut with, and so the Qdrant
collection or pgvector table that holds them (:meth:`VectorIndex.collection`).
``tenant_vector_index`` points at each tenant's active version and at the one being
built. A tenant without a pointer row uses the deployment's index
(:func:`deployment_index`: the shared collection, the configured model).

Every switch of the pointer happens under the pointer row's lock
(:meth:`~ragbus.stores.index_rebuilds.IndexRebuilds.try_switch`), and whoever writes a
document's own chunks reads the active version with ``wait_for_switch`` (a shared
lock on the same row), so a write never lands in a version that stopped being the
active one while it was decided.
"""

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ragbus.errors import PermanentError
from ragbus.stores.postgres import pg_errors, record_to_dict
from schemas.indexes import IndexState

INDEX_LOCK_CLASS = 0x7269_6478
"""First key of the advisory lock that serialises starting a tenant's builds ("ridx")."""

# A document whose searchable version cannot be replayed: its bytes were never
# stored (inline text sent over NATS), or the stored bytes are a later version's
# that failed. In flight (uploaded, parsing, embedding) is not "cannot": once it is
# indexed, its new version is replayed.
UNREPLAYABLE = """
    SELECT count(*)::integer FROM documents
    WHERE tenant_id = $1 AND status <> 'deleted' AND searchable_version IS NOT NULL
      AND (blob_key IS NULL OR (version <> searchable_version
           AND status NOT IN ('uploaded', 'parsing', 'embedding')))
"""


class IndexConflictError(PermanentError):
    """A build cannot start or end now (one is running, or documents cannot be replayed)."""

    code = "index_conflict"


@dataclass(frozen=True, slots=True)
class VectorIndex:
    """One index version of a tenant.

    Attributes:
        id: The version's id; ``None`` for the deployment's index of a tenant that
            never rebuilt (no row).
        tenant_id: Owner.
        model: Embedding model; ``None``: the deployment's ``RAGBUS_EMBED_MODEL``.
        precision: ``fp32`` or ``int8``; ``None``: the deployment's.
        chunking: The strategy every document was cut with; ``None``: each
            document's own.
        shared: Its vectors live in the deployment's collection or table, shared
            by tenants (dropping it deletes only this tenant's points).
        status: See :class:`~schemas.indexes.IndexState`.
        error: Why a build failed or was refused.
        created_by: The principal that started the build.
    """

    id: int | None
    tenant_id: str
    model: str | None = None
    precision: str | None = None
    chunking: str | None = None
    shared: bool = True
    status: IndexState = IndexState.ACTIVE
    error: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    switched_at: datetime | None = None
    retired_at: datetime | None = None
    dropped_at: datetime | None = None

    def collection(self, base: str) -> str:
        """The collection (or table) holding this version: ``base`` when shared, else
        ``<base>_ix<id>``."""
        return base if self.shared or self.id is None else f"{base}_ix{self.id}"

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> "VectorIndex":
        """Build one from a ``SELECT *`` row of ``vector_indexes``."""
        data = record_to_dict(row)
        data["status"] = IndexState(data["status"])
        return cls(**data)


def deployment_index(tenant_id: str) -> VectorIndex:
    """The index of a tenant that never rebuilt: shared, the deployment's model."""
    return VectorIndex(id=None, tenant_id=tenant_id)


class VectorIndexes:
    """Tenant-scoped reads and guarded writes of index versions and their pointer.

    Every method raises :class:`~ragbus.errors.RetryableError` when Postgres is
    unreachable.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @pg_errors
    async def active(self, tenant_id: str, *, wait_for_switch: bool = False) -> VectorIndex:
        """The tenant's active index version.

        Args:
            wait_for_switch: Take a shared lock on the pointer: a switch in progress
                is waited for, and none can start before this statement ends.
                Writers of a document's own chunks read it so, after the document
                is visibly in progress (see ``IndexRebuilds.try_switch``).
        """
        if wait_for_switch:
            # The pointer alone, then its version: a locking read of a join that waited
            # re-checks the new pointer against the old joined row and returns nothing.
            async with self._pool.acquire() as conn:
                active = await conn.fetchval(
                    "SELECT active_id FROM tenant_vector_index WHERE tenant_id = $1 FOR SHARE",
                    tenant_id,
                )
                row = None
                if active is not None:
                    row = await conn.fetchrow("SELECT * FROM vector_indexes WHERE id = $1", active)
        else:
            row = await self._pool.fetchrow(
                """SELECT v.* FROM tenant_vector_index t
                   JOIN vector_indexes v ON v.id = t.active_id WHERE t.tenant_id = $1""",
                tenant_id,
            )
        return deployment_index(tenant_id) if row is None else VectorIndex.from_row(row)

    @pg_errors
    async def get(self, tenant_id: str, index_id: int) -> VectorIndex | None:
        """The tenant's index version ``index_id``, or None (unknown, or another tenant's)."""
        row = await self._pool.fetchrow(
            "SELECT * FROM vector_indexes WHERE tenant_id = $1 AND id = $2", tenant_id, index_id
        )
        return None if row is None else VectorIndex.from_row(row)

    @pg_errors
    async def live(self, tenant_id: str) -> list[VectorIndex]:
        """The versions that hold the tenant's current vectors: the active one, and the
        one being built if any."""
        rows = await self._pool.fetch(
            """SELECT v.* FROM tenant_vector_index t
               JOIN vector_indexes v ON v.id IN (t.active_id, t.building_id)
               WHERE t.tenant_id = $1 ORDER BY v.id""",
            tenant_id,
        )
        return [VectorIndex.from_row(r) for r in rows] or [deployment_index(tenant_id)]

    @pg_errors
    async def recent(self, tenant_id: str, limit: int = 20) -> list[VectorIndex]:
        """The tenant's index versions, newest first."""
        rows = await self._pool.fetch(
            "SELECT * FROM vector_indexes WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2",
            tenant_id,
            limit,
        )
        return [VectorIndex.from_row(r) for r in rows]

    @pg_errors
    async def start(
        self,
        tenant_id: str,
        *,
        model: str | None = None,
        precision: str | None = None,
        chunking: str | None = None,
        created_by: str | None = None,
    ) -> VectorIndex:
        """Make a new index version of the tenant, ``building``, next to the active one.

        The tenant's first build records the deployment's index as its active version.

        Raises:
            IndexConflictError: A build is already running (``rebuild_in_progress``),
                or some document cannot be replayed (``documents_not_replayable``).
        """
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))", INDEX_LOCK_CLASS, tenant_id
            )
            pointer = await conn.fetchrow(
                "SELECT * FROM tenant_vector_index WHERE tenant_id = $1 FOR UPDATE", tenant_id
            )
            if pointer is None:
                current = await conn.fetchval(
                    """INSERT INTO vector_indexes (tenant_id, shared, status, switched_at)
                       VALUES ($1, true, 'active', now()) RETURNING id""",
                    tenant_id,
                )
                await conn.execute(
                    "INSERT INTO tenant_vector_index (tenant_id, active_id) VALUES ($1, $2)",
                    tenant_id,
                    current,
                )
            elif pointer["building_id"] is not None:
                raise IndexConflictError(
                    f"index version {pointer['building_id']} is being built; wait for it or"
                    " abort it first",
                    code="rebuild_in_progress",
                )
            if blocked := await conn.fetchval(UNREPLAYABLE, tenant_id):
                raise IndexConflictError(
                    f"{blocked} documents cannot be replayed (sent as inline text over NATS,"
                    " or a later version failed): reprocess or delete them first",
                    code="documents_not_replayable",
                )
            row = await conn.fetchrow(
                """INSERT INTO vector_indexes (tenant_id, model, precision, chunking, status,
                       created_by)
                   VALUES ($1, $2, $3, $4, 'building', $5) RETURNING *""",
                *(tenant_id, model, precision, chunking, created_by),
            )
            await conn.execute(
                """UPDATE tenant_vector_index SET building_id = $2, updated_at = now()
                   WHERE tenant_id = $1""",
                tenant_id,
                row["id"],
            )
        return VectorIndex.from_row(row)

    async def abort(self, tenant_id: str) -> VectorIndex | None:
        """Stop the tenant's build: ``aborted``, the active version untouched.

        Returns:
            The aborted version, or None when none was being built (or it switched).
        """
        return await self._end_build(tenant_id, None, IndexState.ABORTED, None)

    async def fail(self, tenant_id: str, index_id: int, error: str) -> VectorIndex | None:
        """Stop build ``index_id`` as ``failed`` with ``error``; None if it is not building."""
        return await self._end_build(tenant_id, index_id, IndexState.FAILED, error[:2000])

    @pg_errors
    async def _end_build(
        self, tenant_id: str, index_id: int | None, status: IndexState, error: str | None
    ) -> VectorIndex | None:
        async with self._pool.acquire() as conn, conn.transaction():
            building = await conn.fetchval(
                "SELECT building_id FROM tenant_vector_index WHERE tenant_id = $1 FOR UPDATE",
                tenant_id,
            )
            if building is None or (index_id is not None and building != index_id):
                return None
            row = await conn.fetchrow(
                """UPDATE vector_indexes SET status = $2, error = $3, updated_at = now()
                   WHERE id = $1 AND status = 'building' RETURNING *""",
                *(building, str(status), error),
            )
            await conn.execute(
                """UPDATE tenant_vector_index SET building_id = NULL, updated_at = now()
                   WHERE tenant_id = $1""",
                tenant_id,
            )
        return None if row is None else VectorIndex.from_row(row)
