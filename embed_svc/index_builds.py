"""embed_svc's side of a rebuild: replayed batches written to their index version, and
the switch once the version holds every document.

A ``chunks.ready`` batch with ``index_id`` is a document replayed into a building
version (``ingest_svc.index_ingest``). It is embedded with the version's model,
upserted into the version's own store and counted in ``index_batches``; the
document's own row is not touched. When a document completes, the build's progress
is announced on ``index.status.<tenant>``, and when the last one does, the switch is
tried (``IndexRebuilds.try_switch``: it waits while any document of the tenant is
being ingested). :mod:`embed_svc.index_keeper` retries what is left.
"""

import logging

from embed_svc.chunk_records import chunk_records, window_counts
from ragbus.bus import Publisher
from ragbus.embedding import Vectors
from ragbus.errors import ForbiddenError, PermanentError
from ragbus.index_status import announce_index, fail_build
from ragbus.index_targets import IndexTarget, IndexTargets
from ragbus.stores.documents import DocumentRepository
from ragbus.stores.index_rebuilds import IndexRebuilds
from ragbus.stores.vector_indexes import VectorIndex, VectorIndexes
from schemas import ChunksReady, DocumentStatus, IndexState

log = logging.getLogger(__name__)


class IndexBuilds:
    """Writes replayed batches to their version; switches a complete version in.

    Args:
        documents: The documents' rows (read only).
        targets: Each version's model and store.
        indexes: The versions.
        rebuilds: The builds' progress and switch.
        publisher: Publishes ``index.status``.
    """

    def __init__(
        self,
        documents: DocumentRepository,
        targets: IndexTargets,
        indexes: VectorIndexes,
        rebuilds: IndexRebuilds,
        publisher: Publisher,
    ) -> None:
        self._documents = documents
        self.targets = targets
        self.indexes = indexes
        self.rebuilds = rebuilds
        self._publisher = publisher

    async def target(self, batch: ChunksReady) -> IndexTarget | None:
        """The version a replayed batch is for, with its model and store; None when the
        batch is not wanted any more (the build ended, or the document was deleted or
        moved to another searchable version, which is replayed on its own).

        Raises:
            ForbiddenError: The version is not the batch's tenant's.
        """
        assert batch.index_id is not None
        index = await self.indexes.get(batch.tenant_id, batch.index_id)
        if index is None:
            raise ForbiddenError(f"index version {batch.index_id} is not {batch.tenant_id}'s")
        if index.status != IndexState.BUILDING:
            return None
        record = await self._documents.get(batch.tenant_id, batch.document_id)
        if (
            record is None
            or record.status == DocumentStatus.DELETED
            or record.searchable_version != batch.version
        ):
            return None
        return await self.targets.target(index)

    async def commit(self, batch: ChunksReady, vectors: Vectors, target: IndexTarget) -> None:
        """Upsert a replayed batch into its version and count it; a redelivery counts nothing.

        The document completing announces the build's progress; the last one tries
        the switch.
        """
        windows = window_counts(batch, target.store)
        await target.store.upsert(chunk_records(batch), vectors, windows)
        counted = await self.rebuilds.record_batch(
            target.index, batch.document_id, batch.version, batch.batch_index, len(batch.chunks)
        )
        if counted is None or not counted.completed:
            return
        await self._tidy(batch, target)
        progress = await self.rebuilds.progress(target.index)
        key = f"ix{target.index.id}:{batch.document_id}:{batch.version}:done"
        await announce_index(
            self._publisher, target.index, IndexState.BUILDING, progress, msg_id=key
        )
        if progress.done >= progress.total:
            await self.switch(target.index)

    async def _tidy(self, batch: ChunksReady, target: IndexTarget) -> None:
        """Remove what the version need not hold: a document deleted during its replay,
        or the document's other versions (replayed before its newest was indexed)."""
        record = await self._documents.get(batch.tenant_id, batch.document_id)
        if record is None or record.status == DocumentStatus.DELETED:
            await target.store.delete_document(
                tenant_id=batch.tenant_id, document_id=batch.document_id
            )
        elif batch.version > 1:
            await target.store.delete_document(
                tenant_id=batch.tenant_id, document_id=batch.document_id, keep_version=batch.version
            )

    async def switch(self, index: VectorIndex) -> bool:
        """Make ``index`` the tenant's active version if it is complete; True if this call did."""
        check = await self.rebuilds.try_switch(index)
        if check is None or not check.ready:
            if check is not None:
                log.info(
                    "index switch waits",
                    extra={"index_id": index.id, "in_flight": check.in_flight},
                )
            return False
        progress = await self.rebuilds.progress(index)
        await announce_index(
            self._publisher, index, IndexState.ACTIVE, progress, msg_id=f"ix{index.id}:active"
        )
        log.info("index version switched", extra={"index_id": index.id})
        return True

    async def fail(self, batch: ChunksReady, exc: PermanentError) -> None:
        """A replayed batch cannot be embedded: the build fails, the active version stays."""
        assert batch.index_id is not None
        error = f"{batch.filename} ({batch.document_id}): {exc}"
        await fail_build(self.indexes, self._publisher, batch.tenant_id, batch.index_id, error)
