"""``/v1/documents``: upload, list, get, delete, reprocess. Events out, rows in."""

import json
import logging
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile as StarletteUpload

from gateway.identity import IdentityDep
from gateway.state import StateDep
from gateway.upload_checks import TextUpload, Upload, checked_name, checked_size, text_upload
from gateway.uploads import accept, enqueue, resolve_chunking
from ragbus.stores.documents import DocumentRecord
from schemas import ChunkingStrategy, DeleteDocument, DocumentStatus
from schemas import subjects as s

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/documents", tags=["documents"])


def document_json(record: DocumentRecord) -> dict[str, Any]:
    """The public JSON shape of a document."""
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


def _parse_metadata(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"metadata is not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise HTTPException(422, "metadata must be a JSON object")
    return value


_MULTIPART_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "metadata": {"type": "string", "description": "a JSON object"},
        "external_id": {"type": "string", "description": "only with a single file"},
        "chunking": {"type": "string", "enum": [str(c) for c in ChunkingStrategy]},
    },
}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": _MULTIPART_SCHEMA},
            "application/json": {"schema": TextUpload.model_json_schema()},
        },
    }
}


@router.post("", status_code=status.HTTP_202_ACCEPTED, openapi_extra=_UPLOAD_BODY)
async def upload_documents(
    request: Request, state: StateDep, identity: IdentityDep
) -> dict[str, list[dict[str, Any]]]:
    """Store each file (multipart) or the raw text (JSON), record it as ``uploaded``
    and publish ``document.uploaded``; see :mod:`gateway.uploads` for the dedup and
    version rules (``duplicate``, ``version``, ``external_id`` in each reply entry).
    """
    limit = state.settings.max_upload_bytes
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        raw = await request.body()
        if len(raw) > 6 * limit + 65536:  # even fully \u-escaped, the text is too large
            raise HTTPException(413, f"the body is larger than the {limit}-byte upload limit")
        try:
            body = TextUpload.model_validate_json(raw)
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            raise RequestValidationError(errors) from None
        upload = text_upload(body, limit)
        chunking = await resolve_chunking(state, identity.tenant_id, body.chunking)
        entry = await accept(
            state, identity.tenant_id, upload, body.metadata, body.external_id, chunking
        )
        return {"documents": [entry]}

    async with request.form() as form:
        meta = _parse_metadata(_form_text(form.get("metadata"), "metadata"))
        external_id = _form_text(form.get("external_id"), "external_id") or None
        requested = _parse_chunking(_form_text(form.get("chunking"), "chunking"))
        parts = form.getlist("file")
        if not parts or not all(isinstance(p, StarletteUpload) for p in parts):
            raise HTTPException(
                422, "send multipart/form-data with one or more file fields, or a JSON body"
            )
        if external_id is not None and len(parts) > 1:
            raise HTTPException(422, "external_id applies to a single file")
        if external_id is not None and len(external_id) > 512:
            raise HTTPException(422, "external_id is longer than 512 characters")
        uploads = []
        for part in parts:
            assert isinstance(part, StarletteUpload)
            name = checked_name(part.filename)
            data = checked_size(name, await part.read(limit + 1), limit)
            uploads.append(Upload(name, part.content_type, data))
    chunking = await resolve_chunking(state, identity.tenant_id, requested)
    tenant = identity.tenant_id
    out = [await accept(state, tenant, u, meta, external_id, chunking) for u in uploads]
    return {"documents": out}


def _parse_chunking(raw: str | None) -> ChunkingStrategy | None:
    if not raw:
        return None
    try:
        return ChunkingStrategy(raw)
    except ValueError:
        options = ", ".join(str(c) for c in ChunkingStrategy)
        message = f"unknown chunking strategy {raw!r}; use one of {options}"
        raise HTTPException(422, message) from None


def _form_text(value: object, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise HTTPException(422, f"{field} must be a form field, not a file")


@router.get("")
async def list_documents(
    state: StateDep, identity: IdentityDep, limit: int = 100, offset: int = 0
) -> dict[str, list[dict[str, Any]]]:
    """The tenant's documents, newest first (deleted ones left out)."""
    limit = max(1, min(limit, 1000))
    records = await state.documents.list(identity.tenant_id, limit=limit, offset=max(0, offset))
    return {"documents": [document_json(r) for r in records]}


@router.get("/{document_id}")
async def get_document(
    state: StateDep, identity: IdentityDep, document_id: uuid.UUID
) -> dict[str, Any]:
    """One document with its status, error and progress (404 if not the tenant's)."""
    record = await state.documents.get(identity.tenant_id, document_id)
    if record is None:
        raise HTTPException(404, "document not found")
    return document_json(record)


@router.delete("/{document_id}", status_code=status.HTTP_202_ACCEPTED)
async def delete_document(
    state: StateDep, identity: IdentityDep, document_id: uuid.UUID
) -> dict[str, Any]:
    """Tombstone the document (never retrieved again from now on) and publish the
    ``document.delete`` command that removes its vectors and blob."""
    record = await state.documents.mark_deleted(identity.tenant_id, document_id)
    if record is None:
        raise HTTPException(404, "document not found")
    await state.publisher.publish(
        DeleteDocument(tenant_id=identity.tenant_id, document_id=document_id),
        s.DOCUMENT_DELETE,
        msg_id=f"{document_id}:delete",
    )
    return {"id": str(document_id), "status": str(DocumentStatus.DELETED)}


@router.post("/{document_id}/reprocess", status_code=status.HTTP_202_ACCEPTED)
async def reprocess_document(
    state: StateDep, identity: IdentityDep, document_id: uuid.UUID
) -> dict[str, Any]:
    """Run the document again from its stored bytes as ``version + 1`` (failed or not).

    The last indexed version stays searchable until the new one is indexed.
    """
    record = await state.documents.get(identity.tenant_id, document_id)
    if record is None or record.status == DocumentStatus.DELETED:
        raise HTTPException(404, "document not found")
    if record.blob_key is None:  # submitted over NATS with inline_text: nothing stored
        raise HTTPException(409, "the document's content is not stored; upload it again")
    record = await state.documents.reset_for_reprocess(identity.tenant_id, document_id)
    if record is None:
        raise HTTPException(404, "document not found")
    # The strategy of the original upload is not stored: the tenant's default applies.
    await enqueue(state, record, await resolve_chunking(state, identity.tenant_id, None))
    return {"id": str(record.id), "status": str(record.status), "version": record.version}
