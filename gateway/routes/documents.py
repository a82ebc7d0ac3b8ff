"""``/v1/documents``: upload, list, get, delete, reprocess. Events out, rows in.

The logic is in :mod:`gateway.upload_requests` and :mod:`gateway.uploads` (uploads)
and :mod:`gateway.documents` (the rest).
"""

import uuid
from typing import Any

from fastapi import APIRouter, Query, Request, status

from gateway.api_models import Document, DocumentAccepted, DocumentList, Uploaded, typed
from gateway.documents import document_json, find_document, list_page, reprocess, tombstone
from gateway.errors import ERRORS
from gateway.identity import DocumentReaderDep, UploaderDep
from gateway.state import StateDep
from gateway.upload_requests import OPENAPI_BODY, read_upload_request
from gateway.uploads import accept_all

router = APIRouter(prefix="/v1/documents", tags=["documents"], responses=ERRORS)


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, openapi_extra=OPENAPI_BODY, **typed(Uploaded)
)
async def upload_documents(
    request: Request, state: StateDep, identity: UploaderDep
) -> dict[str, list[dict[str, Any]]]:
    """Store each file (multipart) or the raw text (JSON), record it as ``uploaded``
    and publish ``document.uploaded``; see :mod:`gateway.uploads` for the dedup and
    version rules (``duplicate``, ``version``, ``external_id`` in each reply entry).
    """
    asked = await read_upload_request(request, state.settings.max_upload_bytes)
    return {"documents": await accept_all(state, identity, asked)}


@router.get("", **typed(DocumentList))
async def list_documents(
    state: StateDep,
    identity: DocumentReaderDep,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> dict[str, list[dict[str, Any]]]:
    """The tenant's documents, newest first (deleted ones left out)."""
    return {"documents": await list_page(state, identity.tenant_id, limit, offset)}


@router.get("/{document_id}", **typed(Document))
async def get_document(
    state: StateDep, identity: DocumentReaderDep, document_id: uuid.UUID
) -> dict[str, Any]:
    """One document with its status, error and progress (404 if not the tenant's)."""
    return document_json(await find_document(state, identity.tenant_id, document_id))


@router.delete("/{document_id}", status_code=status.HTTP_202_ACCEPTED, **typed(DocumentAccepted))
async def delete_document(
    state: StateDep, identity: UploaderDep, document_id: uuid.UUID
) -> dict[str, Any]:
    """Tombstone the document (never retrieved again from now on) and publish the
    ``document.delete`` command that removes its vectors and blob."""
    return await tombstone(state, identity, document_id)


@router.post(
    "/{document_id}/reprocess", status_code=status.HTTP_202_ACCEPTED, **typed(DocumentAccepted)
)
async def reprocess_document(
    state: StateDep, identity: UploaderDep, document_id: uuid.UUID
) -> dict[str, Any]:
    """Run the document again from its stored bytes as ``version + 1`` (failed or not).

    The last indexed version stays searchable until the new one is indexed.
    """
    return await reprocess(state, identity, document_id)
