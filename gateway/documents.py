"""A tenant's documents as the API shows them: listed, read, deleted, reprocessed.

The logic of ``/v1/documents`` (``gateway/routes/documents.py``) besides uploads,
which are :mod:`gateway.uploads`. Rows come from Postgres; changes go out as events.
"""

import uuid
from typing import Any

from fastapi import HTTPException

from gateway.auth.authenticate import AuthError, Identity
from gateway.auth.roles import Permission
from gateway.state import GatewayState
from gateway.uploads import enqueue, resolve_chunking
from ragbus.stores.documents import DocumentRecord
from schemas import DeleteDocument, DocumentStatus
from schemas import subjects as s

MAX_PAGE = 1000
"""Most documents listed by one request."""


def document_json(record: DocumentRecord) -> dict[str, Any]:
    """The public JSON shape of a document.

    ``parse_report`` says what parsing the current version left out:
    ``running_lines_dropped`` (lines dropped as running headers or footers),
    ``empty_pages`` (pages without text) and ``warning`` (``most_text_dropped``,
    ``most_pages_empty`` or null) and ``instruction_chunks`` (chunks whose text
    addresses an assistant, which answerers never quote); each is null until the
    version is parsed.
    """
    return {
        "id": str(record.id),
        "filename": record.filename,
        "status": str(record.status),
        "error": record.error,
        "error_code": record.error_code,
        "sha256": record.sha256,
        "title": record.title,
        "parser": record.parser,
        "page_count": record.page_count,
        "parse_report": {
            "running_lines_dropped": record.running_lines_dropped,
            "empty_pages": record.empty_pages,
            "warning": record.parse_warning,
            "instruction_chunks": record.instruction_chunks,
        },
        "chunking": record.chunking,
        "chunks": record.chunks_total,
        "progress": {"done": record.chunks_embedded, "total": record.chunks_total},
        "version": record.version,
        "searchable_version": record.searchable_version,
        "external_id": record.external_id,
        "metadata": record.metadata,
        "created_at": record.created_at.isoformat() if record.created_at else None,
        "indexed_at": record.indexed_at.isoformat() if record.indexed_at else None,
    }


async def list_page(
    state: GatewayState, tenant_id: str, limit: int, offset: int
) -> list[dict[str, Any]]:
    """A page of the tenant's documents, newest first (deleted ones left out).

    ``limit`` is clamped to 1-:data:`MAX_PAGE` and ``offset`` to 0 or more.
    """
    limit = max(1, min(limit, MAX_PAGE))
    records = await state.documents.list(tenant_id, limit=limit, offset=max(0, offset))
    return [document_json(r) for r in records]


async def find_document(
    state: GatewayState, tenant_id: str, document_id: uuid.UUID
) -> DocumentRecord:
    """The tenant's document, whatever its status.

    Raises:
        HTTPException: 404 when the tenant has no such document.
    """
    record = await state.documents.get(tenant_id, document_id)
    if record is None:
        raise HTTPException(404, "document not found")
    return record


def check_owner(identity: Identity, record: DocumentRecord) -> None:
    """Let a member change only the documents they uploaded; an admin changes any.

    Raises:
        AuthError: 403 for a member and someone else's document.
    """
    if identity.can(Permission.MANAGE_DOCUMENTS) or record.uploaded_by == identity.principal_id:
        return
    raise AuthError(403, "forbidden", "only its uploader or a tenant admin may change it")


async def tombstone(
    state: GatewayState, identity: Identity, document_id: uuid.UUID
) -> dict[str, Any]:
    """Mark the document deleted and publish ``document.delete`` (vectors and blob go).

    Returns:
        ``{"id", "status": "deleted"}``.

    Raises:
        HTTPException: 404 when the tenant has no such document.
        AuthError: 403 when a member deletes someone else's document.
    """
    tenant_id = identity.tenant_id
    check_owner(identity, await find_document(state, tenant_id, document_id))
    record = await state.documents.mark_deleted(tenant_id, document_id)
    if record is None:
        raise HTTPException(404, "document not found")
    await state.publisher.publish(
        DeleteDocument(
            tenant_id=tenant_id, document_id=document_id, principal_id=identity.principal_id
        ),
        s.DOCUMENT_DELETE,
        msg_id=f"{document_id}:delete",
    )
    return {"id": str(document_id), "status": str(DocumentStatus.DELETED)}


async def reprocess(
    state: GatewayState, identity: Identity, document_id: uuid.UUID
) -> dict[str, Any]:
    """Start ``version + 1`` of the document from its stored bytes.

    Returns:
        ``{"id", "status", "version"}`` of the new version.

    Raises:
        HTTPException: 404 for an unknown or deleted document; 409 when its bytes
            were never stored; 503 when ``document.uploaded`` could not be enqueued.
        AuthError: 403 when a member reprocesses someone else's document.
    """
    tenant_id = identity.tenant_id
    record = await state.documents.get(tenant_id, document_id)
    if record is None or record.status == DocumentStatus.DELETED:
        raise HTTPException(404, "document not found")
    check_owner(identity, record)
    if record.blob_key is None:  # submitted over NATS with inline_text: nothing stored
        raise HTTPException(409, "the document's content is not stored; upload it again")
    record = await state.documents.reset_for_reprocess(tenant_id, document_id)
    if record is None:
        raise HTTPException(404, "document not found")
    # The strategy of the original upload is not stored: the tenant's default applies.
    await enqueue(state, record, await resolve_chunking(state, tenant_id, None))
    return {"id": str(record.id), "status": str(record.status), "version": record.version}
