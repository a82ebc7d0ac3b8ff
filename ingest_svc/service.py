"""Ingest logic: fetch an upload, parse, chunk, publish ``chunks.ready``, record status.

No NATS or HTTP here: the publisher, repository and blob store are ports.
"""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from uuid import UUID

from ingest_svc.chunking import Chunk, ChunkingConfig
from ingest_svc.dense_windows import DEFAULT_WINDOW_TOKENS, Windows, chunk_and_window
from ingest_svc.index_ingest import IndexReplay
from ingest_svc.parsing import parse_document
from ingest_svc.upload_rows import announces_parsing, claim
from ragbus.bus import Publisher
from ragbus.document_lifecycle import DocumentLifecycle
from ragbus.embedding import Embedder
from ragbus.errors import DocumentTooLargeError, EmptyDocumentError, ForbiddenError, PermanentError
from ragbus.index_targets import IndexTargets
from ragbus.prompt_injection import addresses_assistant
from ragbus.stores.blobs import BlobStore
from ragbus.stores.chunk_quotas import ChunkLimits, ChunkQuotas
from ragbus.stores.documents import DocumentRepository
from ragbus.stores.index_rebuilds import IndexRebuilds
from ragbus.stores.vector_indexes import VectorIndexes
from ragbus.telemetry import stage
from ragbus.tenancy import check_blob_key
from schemas import (
    MAX_CHUNKS_PER_BATCH,
    ChunkingStrategy,
    ChunkPayload,
    ChunksReady,
    DeleteDocument,
    DocumentStatus,
    DocumentUploaded,
    Progress,
    chunk_id,
)
from schemas import subjects as s

log = logging.getLogger(__name__)


class IngestService:
    """Turns ``document.uploaded`` into ``chunks.ready`` batches.

    Args:
        documents: Document status store.
        blobs: Where uploaded bytes live.
        embedder: Supplies the tokenizer and max sequence length chunks must fit.
        publisher: Event publisher.
        overlap_tokens: Tokens shared by consecutive chunks.
        max_document_bytes: Largest document accepted, in bytes.
        chunk_quotas: Each tenant's chunk limits; ``None``: the defaults for all.
        targets: Each tenant's index version, whose model's tokenizer cuts its
            chunks; ``None``: ``embedder``'s for every tenant.
        indexes: Index versions, and ``rebuilds`` their builds: with both (and
            ``targets``), uploads replayed into a building version are served
            (:class:`~ingest_svc.index_ingest.IndexReplay`), else skipped.
    """

    def __init__(
        self,
        documents: DocumentRepository,
        blobs: BlobStore,
        embedder: Embedder,
        publisher: Publisher,
        *,
        overlap_tokens: int = 32,
        window_tokens: int = DEFAULT_WINDOW_TOKENS,
        max_document_bytes: int = 50 * 1024 * 1024,
        chunk_quotas: ChunkQuotas | None = None,
        targets: IndexTargets | None = None,
        indexes: VectorIndexes | None = None,
        rebuilds: IndexRebuilds | None = None,
    ) -> None:
        self._documents = documents
        self._blobs = blobs
        self._embedder = embedder
        self._publisher = publisher
        self._lifecycle = DocumentLifecycle(documents, publisher)
        self._chunking = ChunkingConfig(
            max_tokens=embedder.max_tokens, overlap_tokens=overlap_tokens
        )
        self._window_tokens = window_tokens
        self._max_bytes = max_document_bytes
        self._quotas = chunk_quotas
        self._targets = targets
        self.replay: IndexReplay | None = None
        if targets is not None and indexes is not None and rebuilds is not None:
            ports = (targets, indexes, rebuilds, publisher)
            self.replay = IndexReplay(
                documents,
                self._load,
                *ports,
                self._batches,
                self._chunking,
                window_tokens=window_tokens,
            )

    async def ingest(self, event: DocumentUploaded) -> None:
        """Parse and chunk one upload; idempotent under redelivery.

        Raises:
            ForbiddenError: the event names another tenant's blob or document.
            PermanentError: bad input (unsupported, empty, corrupt, too large, or
                more chunks than the tenant's limits allow: ``too_many_chunks``).
            RetryableError: a store or NATS was unavailable.
        """
        if event.index_id is not None:  # a rebuild's replay: the document's row stays
            if self.replay is not None:
                await self.replay.ingest(event)
            return
        tenant, doc_id = event.tenant_id, event.resolved_document_id()
        check_blob_key(tenant, doc_id, event.blob_key)
        record = await claim(self._documents, event)
        if record.status in (DocumentStatus.DELETED, DocumentStatus.INDEXED, DocumentStatus.FAILED):
            log.info("skip upload", extra={"document_id": str(doc_id), "status": record.status})
            return
        if event.version != record.version:
            # A late redelivery of an older version's upload: its bytes are not the
            # document's current content, so parsing them would index stale text.
            log.info("skip stale version", extra={"document_id": str(doc_id)})
            return
        if record.status == DocumentStatus.UPLOADED and announces_parsing(event):
            await self._documents.set_status(tenant, doc_id, DocumentStatus.PARSING)
            await self._lifecycle.announce(tenant, doc_id, DocumentStatus.PARSING)
        with stage("parse", {"file.name": event.filename}) as span:
            data = await self._load(event)
            parsed = await asyncio.to_thread(
                parse_document, data, event.filename, event.content_type
            )
            span.set_attributes({"file.size": len(data), "ragbus.parser": parsed.parser})
        limits = await self._quotas.limits_of(tenant) if self._quotas else ChunkLimits()
        # Each chunk holds at most max_chars characters: a lower bound that refuses
        # an amplifying upload (a DOCX of megabytes of XML) before chunking it.
        chars = sum(len(section.text) for section in parsed.sections)
        at_least = -(-chars // self._chunking.max_chars)
        limits.check(event.filename, at_least, len(data), parsed.page_count)
        strategy = event.chunking or ChunkingStrategy.TOKEN_WINDOW
        model = await self._active_model(tenant)
        config = replace(self._chunking, max_tokens=model.max_tokens)
        with stage("chunk", {"ragbus.chunking": str(strategy)}) as span:
            chunks, windows = await asyncio.to_thread(
                chunk_and_window, parsed, model.tokenizer, config, strategy, self._window_tokens
            )
            span.set_attribute("ragbus.chunks", len(chunks))
        if not chunks:
            raise EmptyDocumentError(f"{event.filename}: no text to index after parsing")
        limits.check(event.filename, len(chunks), len(data), parsed.page_count)
        # Text that addresses an assistant is flagged, never obeyed (ragbus.prompt_injection).
        flagged = {c.index for c in chunks if addresses_assistant(c.text)}
        changed = await self._documents.set_parsed(
            tenant,
            doc_id,
            version=record.version,
            chunks_total=len(chunks),
            title=parsed.title,
            parser=parsed.parser,
            page_count=parsed.page_count,
            running_lines_dropped=parsed.report.running_lines_dropped,
            empty_pages=parsed.report.empty_pages,
            parse_warning=parsed.report.warning(parsed.page_count),
            instruction_chunks=len(flagged),
        )
        if not changed and not await self._still_embedding(tenant, doc_id, record.version):
            return  # deleted, failed or re-versioned meanwhile
        # A redelivery after set_parsed publishes the batches again: JetStream drops
        # the duplicates by Nats-Msg-Id and embed_svc counts each batch once.
        await self._lifecycle.announce(
            tenant, doc_id, DocumentStatus.EMBEDDING, Progress(total=len(chunks))
        )
        batches = self._batches(event, record.version, parsed.title, chunks, flagged, windows)
        for batch in batches:
            await self._publisher.publish(
                batch,
                s.chunks_ready_for(tenant),
                msg_id=f"{doc_id}:{record.version}:{batch.batch_index}",
            )

    async def fail(self, event: DocumentUploaded, exc: PermanentError) -> None:
        """Mark the document failed with the reason and announce it (a replayed one:
        its build fails instead, see ``IndexReplay.fail``)."""
        if event.index_id is not None:
            if self.replay is not None:
                await self.replay.fail(event, exc)
            return
        await self._lifecycle.fail(
            event.tenant_id, event.resolved_document_id(), exc, version=event.version
        )

    async def delete_blob(self, command: DeleteDocument) -> None:
        """Remove the deleted document's raw bytes from the blob store (idempotent).

        Raises:
            ForbiddenError: the document is another tenant's, or it was never
                deleted (the gateway tombstones the row before it publishes the
                command; a command without the tombstone did not come from it).
        """
        await self._check_owned(command.tenant_id, command.document_id)
        record = await self._documents.get(command.tenant_id, command.document_id)
        if record is not None and record.status != DocumentStatus.DELETED:
            raise ForbiddenError(f"document {command.document_id} is not deleted")
        if record is not None and record.blob_key:
            await self._blobs.delete(record.blob_key)

    async def _active_model(self, tenant: str) -> Embedder:
        """The model whose tokenizer cuts the tenant's chunks: its active index version's,
        read under the pointer's shared lock (``VectorIndexes.active``)."""
        if self._targets is None:
            return self._embedder
        index = await self._targets.active_index(tenant, wait_for_switch=True)
        return await self._targets.embedder(index, tokens_only=True)

    async def _check_owned(self, tenant: str, doc_id: UUID) -> None:
        if await self._documents.held_elsewhere(tenant, doc_id):
            raise ForbiddenError(f"document {doc_id} belongs to another tenant")

    async def _still_embedding(self, tenant: str, doc_id: UUID, version: int) -> bool:
        current = await self._documents.get(tenant, doc_id)
        return (
            current is not None
            and current.status == DocumentStatus.EMBEDDING
            and current.version == version
        )

    async def _load(self, event: DocumentUploaded) -> bytes:
        if event.inline_text is not None:
            return event.inline_text.encode("utf-8")
        assert event.blob_key is not None
        data = await self._blobs.get(event.blob_key)
        if len(data) > self._max_bytes:
            raise DocumentTooLargeError(
                f"{event.filename} is {len(data)} bytes; the limit is {self._max_bytes} bytes"
            )
        return data

    def _batches(
        self,
        event: DocumentUploaded,
        version: int,
        title: str | None,
        chunks: list[Chunk],
        flagged: set[int],
        windows: Sequence[Windows],
    ) -> list[ChunksReady]:
        """``chunks.ready`` events of at most 64 chunks; ``flagged``: indexes of the
        chunks that address an assistant; ``windows``: each chunk's dense windows."""
        doc_id = event.resolved_document_id()
        groups = [
            chunks[i : i + MAX_CHUNKS_PER_BATCH]
            for i in range(0, len(chunks), MAX_CHUNKS_PER_BATCH)
        ]
        return [
            ChunksReady(
                tenant_id=event.tenant_id,
                document_id=doc_id,
                version=version,
                filename=event.filename,
                title=title,
                batch_index=i,
                batch_count=len(groups),
                total_chunks=len(chunks),
                index_id=event.index_id,
                chunks=[
                    ChunkPayload(
                        chunk_id=chunk_id(event.tenant_id, doc_id, version, c.index),
                        index=c.index,
                        text=c.text,
                        token_count=c.token_count,
                        page=c.page,
                        heading=c.heading,
                        addresses_assistant=c.index in flagged,
                        dense_windows=list(windows[c.index].spans),
                        window_prefix_chars=windows[c.index].prefix_chars,
                    )
                    for c in group
                ],
            )
            for i, group in enumerate(groups)
        ]
