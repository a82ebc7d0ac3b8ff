"""Removing blobs that no document row points at: the last half of "nothing half-stored".

An upload writes its blob, then its row; a failed row write deletes the blob at
once (:mod:`gateway.uploads`), but a gateway that dies between the two leaves a
blob with no row. The sweeper calls :meth:`OrphanBlobs.sweep_due` after each round:
at most every ``every_s`` it lists blobs older than ``min_age_s`` (an hour, far
longer than any upload takes between its blob and its row) and deletes those whose
key no ``documents`` row holds. Deletes are idempotent, so replicas may overlap.
"""

import logging
import time

import asyncpg

from ragbus.stores.blobs import BlobStore

log = logging.getLogger(__name__)

MIN_AGE_S = 3600.0
"""A blob younger than this may belong to an upload still writing its row."""
EVERY_S = 600.0
"""Seconds between two sweeps for orphans (each lists the blob store once)."""
BATCH = 1000
"""Blobs looked at per sweep."""

# Maintenance query across tenants, like the stale-document sweeper's: a blob key
# names its tenant, and the question is only whether any row holds the key.
_HELD = "SELECT blob_key FROM documents WHERE blob_key = ANY($1::text[])"


class OrphanBlobs:
    """Finds and deletes blobs without a document row.

    Args:
        pool: The Postgres pool (``documents``).
        blobs: The blob store.
        min_age_s: Only blobs older than this are candidates, in seconds.
        every_s: Least time between two sweeps, in seconds.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        blobs: BlobStore,
        *,
        min_age_s: float = MIN_AGE_S,
        every_s: float = EVERY_S,
    ) -> None:
        self._pool = pool
        self._blobs = blobs
        self._min_age_s = min_age_s
        self._every_s = every_s
        self._last = float("-inf")

    async def sweep_due(self) -> int:
        """:meth:`sweep` if ``every_s`` have passed since the last one, else 0."""
        if time.monotonic() - self._last < self._every_s:
            return 0
        self._last = time.monotonic()
        return await self.sweep()

    async def sweep(self) -> int:
        """Delete the orphans among the oldest blobs; returns how many were deleted.

        Raises:
            RetryableError, asyncpg.PostgresError: the blob store or Postgres is down.
        """
        keys = await self._blobs.older_than(self._min_age_s, BATCH)
        if not keys:
            return 0
        held = {row["blob_key"] for row in await self._pool.fetch(_HELD, keys)}
        orphans = [key for key in keys if key not in held]
        for key in orphans:
            await self._blobs.delete(key)
        if orphans:
            log.warning("deleted orphan blobs", extra={"count": len(orphans)})
        return len(orphans)
