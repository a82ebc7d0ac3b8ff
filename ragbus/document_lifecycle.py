"""Document lifecycle announcements shared by ingest_svc and embed_svc."""

from uuid import UUID

from ragbus.bus import Publisher
from ragbus.errors import PermanentError
from ragbus.stores.documents import DocumentRecord, DocumentRepository
from schemas import (
    ChunkingStrategy,
    DocumentFailed,
    DocumentStatus,
    DocumentStatusChanged,
    DocumentUploaded,
    Progress,
)
from schemas import subjects as s


def upload_event(
    record: DocumentRecord, chunking: ChunkingStrategy | None = None
) -> DocumentUploaded:
    """``document.uploaded`` for the row's current version, rebuilt from Postgres.

    Used to (re)start a document from its stored blob: reprocess, new versions and
    the sweeper. ``chunking`` defaults to the strategy recorded on the row.

    Raises:
        ValueError: the row has no stored blob (it came as inline text over NATS).
    """
    if record.blob_key is None:
        raise ValueError(f"document {record.id} has no stored blob to re-publish")
    return DocumentUploaded(
        tenant_id=record.tenant_id,
        document_id=record.id,
        filename=record.filename,
        content_type=record.content_type,
        blob_key=record.blob_key,
        sha256=record.sha256,
        size_bytes=record.size_bytes,
        metadata=record.metadata,
        version=record.version,
        external_id=record.external_id,
        chunking=chunking or (ChunkingStrategy(record.chunking) if record.chunking else None),
        principal_id=record.uploaded_by,
    )


class DocumentLifecycle:
    """Records and announces document status changes.

    Args:
        documents: Where status is committed (first).
        publisher: Where the change is announced (after the commit).
    """

    def __init__(self, documents: DocumentRepository, publisher: Publisher) -> None:
        self.documents = documents
        self.publisher = publisher

    async def announce(
        self,
        tenant_id: str,
        document_id: UUID,
        status: DocumentStatus,
        progress: Progress | None = None,
        *,
        error: str | None = None,
        msg_id: str | None = None,
    ) -> None:
        """Publish ``document.status`` for a change already committed.

        Args:
            msg_id: A deterministic ``Nats-Msg-Id`` for announcements a redelivery
                repeats, so JetStream stores them once (within its 2-minute window).
        """
        await self.publisher.publish(
            DocumentStatusChanged(
                tenant_id=tenant_id,
                document_id=document_id,
                status=status,
                progress=progress or Progress(),
                error=error,
            ),
            s.DOCUMENT_STATUS,
            msg_id=msg_id,
        )

    async def fail(
        self,
        tenant_id: str,
        document_id: UUID,
        exc: PermanentError,
        *,
        version: int | None = None,
    ) -> None:
        """Mark the document failed with the reason, then publish ``document.failed``.

        Args:
            version: The version the failed work belonged to. If the document has
                moved on (a newer version, a delete), nothing is changed or
                announced: the failure of superseded work is not the document's.
                ``None`` fails whatever version is current.
        """
        changed = await self.documents.set_status(
            tenant_id,
            document_id,
            DocumentStatus.FAILED,
            error=str(exc),
            error_code=exc.code,
            version=version,
        )
        if not changed:
            # Already failed by an earlier delivery whose announcement may not have
            # gone out: announce again. A repeated document.failed is harmless; a
            # missing one would leave a client waiting.
            record = await self.documents.get(tenant_id, document_id)
            if record is None or record.status != DocumentStatus.FAILED:
                return
            if version is not None and record.version != version:
                return
        await self.publisher.publish(
            DocumentFailed(
                tenant_id=tenant_id, document_id=document_id, code=exc.code, error=str(exc)
            ),
            s.DOCUMENT_FAILED,
        )
        await self.announce(tenant_id, document_id, DocumentStatus.FAILED, error=str(exc))
