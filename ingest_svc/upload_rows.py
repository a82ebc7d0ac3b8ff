"""An upload's document row as ingest finds it, and whether its parsing is announced.

Both are on the path of every upload, so each costs as few round trips as it can:
the row is one read by key, and a small upload is not announced ``parsing`` at all.
"""

from ragbus.errors import ForbiddenError
from ragbus.stores.documents import DocumentRecord, DocumentRepository
from schemas import DocumentUploaded

PARSING_ANNOUNCED_BYTES = 256 * 1024
"""Uploads this large, and PDFs, are marked and announced ``parsing`` before they are
parsed. A smaller text parses and chunks in milliseconds (a SciFact abstract: about
1 ms; text and Markdown run at megabytes per second), so it goes from ``uploaded``
to ``embedding`` directly, without a row write and a JetStream publish nobody
would see; ``uploaded`` and ``parsing`` mean the same to the sweeper."""


def announces_parsing(event: DocumentUploaded) -> bool:
    """Whether the upload may take long enough to parse to be marked ``parsing`` first."""
    size = event.size_bytes if event.size_bytes is not None else len(event.inline_text or "")
    return size >= PARSING_ANNOUNCED_BYTES or (event.content_type or "").endswith("/pdf")


async def claim(documents: DocumentRepository, event: DocumentUploaded) -> DocumentRecord:
    """The tenant's row of the upload's document, made from the event if it has none.

    The gateway writes the row before it publishes, so this is one read by key.
    Only a row the tenant lacks (inline text sent over NATS) is checked against the
    other tenants' (a document id is held by one tenant) and inserted.

    Raises:
        ForbiddenError: another tenant holds the document's id.
    """
    tenant, doc_id = event.tenant_id, event.resolved_document_id()
    record = await documents.get(tenant, doc_id)
    if record is not None:
        return record
    if await documents.held_elsewhere(tenant, doc_id):
        raise ForbiddenError(f"document {doc_id} belongs to another tenant")
    record, _ = await documents.create(
        tenant,
        doc_id,
        filename=event.filename,
        content_type=event.content_type,
        sha256=event.sha256,
        size_bytes=event.size_bytes,
        blob_key=event.blob_key,
        metadata=event.metadata,
        version=event.version,
        external_id=event.external_id,
    )
    return record
