"""Rebuilding an index version: replay the tenant's documents, cut each one for the version.

``index.rebuild`` (:meth:`IndexReplay.replay`) publishes ``document.uploaded`` with
``index_id`` for every document the building version lacks. Such an upload
(:meth:`IndexReplay.ingest`) is parsed and chunked with the version's chunking and
its model's tokenizer, and its ``chunks.ready`` batches carry ``index_id`` too, so
embed_svc writes them to that version only. The document's own row (status,
progress, searchable version) is never touched: it stays searchable in the active
version meanwhile. Quotas are not checked again: the document was accepted once.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from ingest_svc.chunking import Chunk, ChunkingConfig
from ingest_svc.dense_windows import DEFAULT_WINDOW_TOKENS, Windows, chunk_and_window
from ingest_svc.parsing import parse_document
from ragbus.bus import Publisher
from ragbus.document_lifecycle import upload_event
from ragbus.errors import EmptyDocumentError, ForbiddenError, PermanentError
from ragbus.index_status import announce_index, fail_build
from ragbus.index_targets import IndexTargets
from ragbus.prompt_injection import addresses_assistant
from ragbus.stores.documents import DocumentRepository
from ragbus.stores.index_rebuilds import REPLAY_STALE_S, IndexRebuilds
from ragbus.stores.vector_indexes import VectorIndex, VectorIndexes
from ragbus.tenancy import check_blob_key
from schemas import (
    ChunkingStrategy,
    ChunksReady,
    DocumentStatus,
    DocumentUploaded,
    IndexState,
    RebuildIndex,
)
from schemas import subjects as s

log = logging.getLogger(__name__)

Batches = Callable[
    [DocumentUploaded, int, str | None, list[Chunk], set[int], Sequence[Windows]],
    list[ChunksReady],
]
"""``IngestService``'s batching: ``(event, version, title, chunks, flagged, windows)``."""


class IndexReplay:
    """Replays documents into a building index version (see the module docstring).

    Args:
        documents: The documents' rows (read only).
        load: Reads an upload's bytes (``IngestService``'s loader: blob or inline text).
        targets: The versions' models (their tokenizers).
        indexes: The versions.
        rebuilds: The builds' progress.
        publisher: Publishes the replayed uploads, their batches and the progress.
        batches: Cuts a document's chunks into ``chunks.ready`` batches.
        chunking: Chunk sizes (the token limit is the version's model's).
    """

    def __init__(
        self,
        documents: DocumentRepository,
        load: Callable[[DocumentUploaded], Awaitable[bytes]],
        targets: IndexTargets,
        indexes: VectorIndexes,
        rebuilds: IndexRebuilds,
        publisher: Publisher,
        batches: Batches,
        chunking: ChunkingConfig,
        *,
        window_tokens: int = DEFAULT_WINDOW_TOKENS,
    ) -> None:
        self._documents = documents
        self._load = load
        self._targets = targets
        self._indexes = indexes
        self._rebuilds = rebuilds
        self._publisher = publisher
        self._batches = batches
        self._chunking = chunking
        self._window_tokens = window_tokens

    async def replay(self, command: RebuildIndex) -> None:
        """Publish ``document.uploaded`` for every document the version lacks; idempotent.

        Raises:
            ForbiddenError: The version is not the command's tenant's.
        """
        index = await self._version(command.tenant_id, command.index_id)
        if index.status != IndexState.BUILDING:
            return
        # Publish, then record: a failure in between replays those again (deduplicated).
        replayed = 0
        while records := await self._rebuilds.to_replay(index, stale_after_s=REPLAY_STALE_S):
            for record in records:
                event = upload_event(record, _chunking(index, record.chunking))
                await self._publisher.publish(
                    event.model_copy(update={"index_id": index.id}),
                    s.DOCUMENT_UPLOADED,
                    msg_id=f"{record.id}:{record.version}:ix{index.id}:{command.event_id}",
                )
            await self._rebuilds.plan(index, [(r.id, r.version) for r in records])
            replayed += len(records)
        if replayed:
            await announce_index(
                self._publisher, index, IndexState.BUILDING, await self._rebuilds.progress(index)
            )

    async def ingest(self, event: DocumentUploaded) -> None:
        """Cut one replayed document for its version and publish its batches; idempotent.

        Raises:
            ForbiddenError: The version or the document is another tenant's.
            PermanentError: The document cannot be parsed or cut (the build fails).
        """
        tenant, doc_id = event.tenant_id, event.resolved_document_id()
        check_blob_key(tenant, doc_id, event.blob_key)
        assert event.index_id is not None
        index = await self._version(tenant, event.index_id)
        record = await self._documents.get(tenant, doc_id)
        if record is None and await self._documents.held_elsewhere(tenant, doc_id):
            raise ForbiddenError(f"document {doc_id} belongs to another tenant")
        if (
            index.status != IndexState.BUILDING
            or record is None
            or record.status == DocumentStatus.DELETED
            or record.searchable_version != event.version
        ):
            log.info("skip replay", extra={"document_id": str(doc_id), "index_id": index.id})
            return
        data = await self._load(event)
        parsed = await asyncio.to_thread(parse_document, data, event.filename, event.content_type)
        embedder = await self._targets.embedder(index, tokens_only=True)
        config = replace(self._chunking, max_tokens=embedder.max_tokens)
        strategy = event.chunking or ChunkingStrategy.TOKEN_WINDOW
        chunks, windows = await asyncio.to_thread(
            chunk_and_window, parsed, embedder.tokenizer, config, strategy, self._window_tokens
        )
        if not chunks:
            raise EmptyDocumentError(f"{event.filename}: no text to index after parsing")
        if not await self._rebuilds.set_total(index, doc_id, event.version, len(chunks)):
            return  # the build ended meanwhile
        flagged = {c.index for c in chunks if addresses_assistant(c.text)}
        batches = self._batches(event, event.version, parsed.title, chunks, flagged, windows)
        for batch in batches:
            await self._publisher.publish(
                batch,
                s.chunks_ready_for(tenant),
                msg_id=f"{doc_id}:{event.version}:ix{index.id}:{batch.batch_index}",
            )

    async def fail(self, event: DocumentUploaded, exc: PermanentError) -> None:
        """A replayed document cannot be indexed: the build fails, the active version stays."""
        assert event.index_id is not None
        error = f"{event.filename} ({event.resolved_document_id()}): {exc}"
        await fail_build(self._indexes, self._publisher, event.tenant_id, event.index_id, error)

    async def _version(self, tenant_id: str, index_id: int) -> VectorIndex:
        index = await self._indexes.get(tenant_id, index_id)
        if index is None:
            raise ForbiddenError(f"index version {index_id} is not tenant {tenant_id}'s")
        return index


def _chunking(index: VectorIndex, own: str | None) -> ChunkingStrategy | None:
    """The version's chunking, else the document's own."""
    chosen = index.chunking or own
    return ChunkingStrategy(chosen) if chosen else None
