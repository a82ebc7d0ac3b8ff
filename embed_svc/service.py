"""Embed logic: chunks in, vectors upserted, progress recorded, document indexed.

Every step is idempotent: point ids are the chunks' uuid5 ids, progress is summed
over distinct batches, and ``indexed`` is reached once. Indexing a version makes it
the searchable one (one row update); only then are older versions' vectors removed.

A document's own batches go to the tenant's active index version, read when they
are embedded and again when they are committed (the document is in progress, so no
switch happens in between: ``IndexRebuilds.try_switch``). A batch replayed into a
building version (``index_id``) is :mod:`embed_svc.index_builds`'s.
"""

import asyncio
import logging
from datetime import datetime
from uuid import UUID

import numpy as np
from nats.aio.msg import Msg

from embed_svc.batch_targets import BatchTargets
from embed_svc.chunk_records import chunk_records, dense_texts, window_counts
from embed_svc.index_builds import IndexBuilds
from ragbus.bus import Publisher
from ragbus.document_lifecycle import DocumentLifecycle
from ragbus.embedding import Embedder, Vectors
from ragbus.errors import ForbiddenError, PermanentError
from ragbus.index_targets import IndexTargets, OneIndex
from ragbus.stores.documents import DocumentRepository
from ragbus.stores.vectors.base import VectorStore
from ragbus.telemetry import stage
from schemas import (
    ChunksReady,
    DeleteDocument,
    DocumentDeleted,
    DocumentIndexed,
    DocumentStatus,
    Progress,
)
from schemas import subjects as s

log = logging.getLogger(__name__)


class EmbedService:
    """Embeds ``chunks.ready`` batches into the vector store.

    Args:
        documents: Document status and progress store.
        vectors: The vector store (Qdrant or pgvector) of every tenant, unless
            ``targets`` says otherwise.
        embedder: The dense embedding model, likewise.
        publisher: Event publisher.
        targets: Each tenant's index versions, with their models and stores;
            ``None``: ``vectors`` and ``embedder`` for everyone.
        builds: Writes batches replayed into a building version; ``None``: such
            batches are dropped.
    """

    def __init__(
        self,
        documents: DocumentRepository,
        vectors: VectorStore,
        embedder: Embedder,
        publisher: Publisher,
        *,
        targets: IndexTargets | None = None,
        builds: IndexBuilds | None = None,
    ) -> None:
        self._documents = documents
        self._embedder = embedder
        self._publisher = publisher
        self._lifecycle = DocumentLifecycle(documents, publisher)
        self._targets = BatchTargets(targets or OneIndex(vectors, embedder), builds)
        self._builds = builds

    async def wanted(self, batches: list[ChunksReady]) -> list[bool]:
        """Whether each batch's document still wants it (``BatchState.wants``).

        One read for the whole pull, before the model's turn. A read that fails
        (Postgres down) says "wanted": :meth:`commit` checks again and retries.

        Returns:
            One flag per batch, in order.
        """
        keys = [(b.tenant_id, b.document_id) for b in batches]
        try:
            states = await self._documents.batch_states(keys)
        except Exception:  # Postgres down: embed anyway, commit() checks again and retries
            log.warning("could not check the batches' documents; embedding them", exc_info=True)
            return [True] * len(batches)
        found = [states.get(key) for key in keys]
        return [f is not None and f.wants(b.version, b.index_id is not None)
                for f, b in zip(found, batches, strict=True)]  # fmt: skip

    async def embed(
        self,
        batches: list[ChunksReady],
        trace_parent: Msg | None = None,
        wanted: list[bool] | None = None,
    ) -> list[Vectors]:
        """Embed every live chunk of ``batches``, one model call per index version's model
        (usually one; CPU work in a thread).

        A batch whose document was deleted, or moved to another version, since it
        was published is not embedded: :meth:`commit` would drop it anyway, and a
        deleted 500-page PDF would otherwise cost minutes of model time.

        Args:
            batches: The pulled ``chunks.ready`` events.
            trace_parent: The message whose trace the ``embed_batch`` span joins.
            wanted: :meth:`wanted` of ``batches`` if already read; read here if omitted.

        Returns:
            One ``(rows, dim)`` float32 matrix per batch, in order, a row per text of
            :func:`~embed_svc.chunk_records.dense_texts`; ``(0, dim)`` if not wanted.
        """
        live = wanted if wanted is not None else await self.wanted(batches)
        targets = [
            await self._targets.for_embedding(b) if keep else None
            for b, keep in zip(batches, live, strict=True)
        ]
        out = [np.zeros((0, t.embedder.dim if t else 0), np.float32) for t in targets]
        models = {id(t.embedder): t.embedder for t in targets if t is not None}
        for key, embedder in models.items():  # one model call per model (usually one)
            mine = [(i, t) for i, t in enumerate(targets) if t and id(t.embedder) == key]
            per_batch = [dense_texts(batches[i], t.store) for i, t in mine]
            texts = [text for batch_texts in per_batch for text in batch_texts]
            model = {"gen_ai.request.model": embedder.model_id}
            attributes = {"gen_ai.operation.name": "embeddings", **model}
            # A batch mixes documents, so its span joins the first message's trace.
            with stage("embed_batch", attributes, message=trace_parent, batch_size=len(texts)):
                matrix = await asyncio.to_thread(embedder.embed_documents, texts)
            ends = np.cumsum([len(batch_texts) for batch_texts in per_batch])
            for (i, _), end, batch_texts in zip(mine, ends, per_batch, strict=True):
                out[i] = matrix[end - len(batch_texts) : end]
        return out

    async def commit(self, batch: ChunksReady, vectors: Vectors) -> None:
        """Upsert one batch's vectors, record progress, and mark indexed when complete.

        ``count_batch`` checks the document as its UPDATE finds it, counts the batch
        and, for the last one, indexes the version, in one statement: a batch costs
        the upsert, that statement and its announcements. Only when it refuses
        (deleted or re-versioned, possibly during the upsert) is the row read to
        clean up. A batch :meth:`embed` skipped (no vectors) is checked first.

        Raises:
            RuntimeError: The batch was skipped by :meth:`embed` yet is current now
                (transient: a retry embeds it).
        """
        if not len(vectors):  # a batch has at least one chunk
            await self._commit_skipped(batch)
            return
        target = await self._targets.for_writing(batch)
        if target is None or batch.index_id is not None:  # a replay (None: it moved on)
            if target is not None and self._builds is not None:
                self._targets.check(batch, target)
                await self._builds.commit(batch, vectors, target)
            return
        self._targets.check(batch, target)
        tenant, doc_id, store = batch.tenant_id, batch.document_id, target.store
        with stage("vector_upsert", {"db.operation.name": "upsert"}, batch_size=len(vectors)):
            await store.upsert(chunk_records(batch), vectors, window_counts(batch, store))
        self._targets.written(batch)
        counted = await self._documents.count_batch(
            tenant,
            doc_id,
            version=batch.version,
            batch_index=batch.batch_index,
            chunk_count=len(batch.chunks),
        )
        if counted is None:  # deleted or re-versioned before or during the upsert
            await self._clean_up_refused(batch, store)
            return
        progress, indexed_at = counted
        if progress.total and progress.done >= progress.total:
            # the last batch: ``indexed`` is announced next (also on a redelivery,
            # deduplicated), so an ``embedding`` announcement would say nothing new
            await self._finish(batch, progress, store, indexed_at)
            return
        await self._lifecycle.announce(
            tenant,
            doc_id,
            DocumentStatus.EMBEDDING,
            progress,
            msg_id=f"{doc_id}:{batch.version}:embedding:{progress.done}",
        )

    async def _commit_skipped(self, batch: ChunksReady) -> None:
        tenant, doc_id = batch.tenant_id, batch.document_id
        if batch.index_id is not None:  # a replay embed() skipped: retried if still wanted
            if await self._targets.for_writing(batch) is not None:
                raise RuntimeError(f"replayed batch {batch.batch_index} of {doc_id} not embedded")
            return
        record = await self._documents.get(tenant, doc_id)
        if record is None or record.status == DocumentStatus.DELETED:
            for target in await self._targets.live(tenant):
                await target.store.delete_document(tenant_id=tenant, document_id=doc_id)
            return
        if record.version != batch.version:
            log.info("stale batch dropped", extra={"document_id": str(doc_id)})
            return
        # Skipped by embed() yet current now: cannot happen as versions only grow
        # and deletes are final, but if it does, a retry embeds it (transient).
        raise RuntimeError(f"batch {batch.batch_index} of {doc_id} was not embedded")

    async def _clean_up_refused(self, batch: ChunksReady, store: VectorStore) -> None:
        tenant, doc_id = batch.tenant_id, batch.document_id
        after = await self._documents.get(tenant, doc_id)
        if after is None or after.status == DocumentStatus.DELETED:
            await store.delete_document(tenant_id=tenant, document_id=doc_id)
        elif after.version != batch.version and after.searchable_version != batch.version:
            # the new version's clean-up may already have run: remove what this wrote
            ids = [c.chunk_id for c in batch.chunks]
            await store.delete_chunks(tenant_id=tenant, chunk_ids=ids)
        # else an older version, still the searchable one: the upsert rewrote its
        # identical points, which the newer version's clean-up removes

    async def _finish(
        self, batch: ChunksReady, progress: Progress, store: VectorStore, at: datetime | None
    ) -> None:
        """Announce the version indexed; ``at``: when ``count_batch`` indexed it."""
        tenant, doc_id = batch.tenant_id, batch.document_id
        indexed_at = at or await self._documents.mark_indexed(tenant, doc_id, version=batch.version)
        if indexed_at is None:  # already indexed by an earlier delivery: re-announce (deduped)
            record = await self._documents.get(tenant, doc_id)
            if record is None or record.status != DocumentStatus.INDEXED:
                return
            indexed_at = record.indexed_at
        assert indexed_at is not None
        await self._drop_older_versions(store, tenant, doc_id, batch.version)
        await self._publisher.publish(
            DocumentIndexed(
                tenant_id=tenant,
                document_id=doc_id,
                version=batch.version,
                chunks=progress.total,
                indexed_at=indexed_at,
            ),
            s.DOCUMENT_INDEXED,
            msg_id=f"{doc_id}:{batch.version}:indexed",
        )
        await self._lifecycle.announce(
            tenant,
            doc_id,
            DocumentStatus.INDEXED,
            progress,
            msg_id=f"{doc_id}:{batch.version}:status:indexed",
        )

    async def _drop_older_versions(
        self, store: VectorStore, tenant: str, doc_id: UUID, version: int
    ) -> None:
        """Remove the vectors of other versions once ``version`` is the searchable one.

        Retrieval already ignores them (it returns only the searchable version), so
        this is clean-up; it is skipped when a newer version became searchable
        meanwhile, whose own clean-up then runs instead. Version 1 has nothing older:
        skipping it saves a filtered delete per document, which Qdrant local mode
        runs as a scan over every point.
        """
        if version <= 1:
            return
        record = await self._documents.get(tenant, doc_id)
        if record is None or record.status == DocumentStatus.DELETED:
            return
        if record.searchable_version == version:
            await store.delete_document(tenant_id=tenant, document_id=doc_id, keep_version=version)

    async def fail(self, batch: ChunksReady, exc: PermanentError) -> None:
        """Mark the batch's document failed with the reason and announce it (a replayed
        batch's build fails instead, see ``IndexBuilds.fail``)."""
        if batch.index_id is not None:
            if self._builds is not None:
                await self._builds.fail(batch, exc)
            return
        await self._lifecycle.fail(batch.tenant_id, batch.document_id, exc, version=batch.version)

    async def delete(self, command: DeleteDocument) -> None:
        """Remove every vector of the document (in each live index version) and announce
        ``document.deleted``.

        Raises:
            ForbiddenError: the document is another tenant's, or its row is not a
                tombstone (only the gateway's delete, which tombstones first, counts).
        """
        tenant, doc_id = command.tenant_id, command.document_id
        if await self._documents.held_elsewhere(tenant, doc_id):
            raise ForbiddenError(f"document {doc_id} belongs to another tenant")
        record = await self._documents.get(tenant, doc_id)
        if record is not None and record.status != DocumentStatus.DELETED:
            raise ForbiddenError(f"document {doc_id} is not deleted")
        for target in await self._targets.live(tenant):
            await target.store.delete_document(tenant_id=tenant, document_id=doc_id)
        await self._publisher.publish(
            DocumentDeleted(tenant_id=command.tenant_id, document_id=command.document_id),
            s.DOCUMENT_DELETED,
            msg_id=f"{command.document_id}:deleted",
        )
