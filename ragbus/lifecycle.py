"""Document lifecycle announcements shared by ingest_svc and embed_svc."""

from uuid import UUID

from ragbus.bus import Publisher
from ragbus.errors import PermanentError
from ragbus.stores.documents import DocumentRepository
from schemas import DocumentFailed, DocumentStatus, DocumentStatusChanged, Progress
from schemas import subjects as s


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
    ) -> None:
        """Publish ``document.status`` for a change already committed."""
        await self.publisher.publish(
            DocumentStatusChanged(
                tenant_id=tenant_id,
                document_id=document_id,
                status=status,
                progress=progress or Progress(),
                error=error,
            ),
            s.DOCUMENT_STATUS,
        )

    async def fail(self, tenant_id: str, document_id: UUID, exc: PermanentError) -> None:
        """Mark the document failed with the reason, then publish ``document.failed``."""
        await self.documents.set_status(
            tenant_id, document_id, DocumentStatus.FAILED, error=str(exc), error_code=exc.code
        )
        await self.publisher.publish(
            DocumentFailed(
                tenant_id=tenant_id, document_id=document_id, code=exc.code, error=str(exc)
            ),
            s.DOCUMENT_FAILED,
        )
        await self.announce(tenant_id, document_id, DocumentStatus.FAILED, error=str(exc))
