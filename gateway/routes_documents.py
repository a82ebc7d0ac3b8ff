"""``/v1/documents``: upload, list, get, delete. Events out, rows in; no parsing here."""

import hashlib
import json
import logging
import uuid
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, UploadFile, status

from gateway.identity import IdentityDep
from gateway.state import StateDep
from ragbus.stores.blobs import blob_key
from ragbus.stores.documents import DocumentRecord
from schemas import SUPPORTED_EXTENSIONS, DeleteDocument, DocumentStatus, DocumentUploaded
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
        "chunks": record.chunks_total,
        "progress": {"done": record.chunks_embedded, "total": record.chunks_total},
        "version": record.version,
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


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def upload_documents(
    state: StateDep,
    identity: IdentityDep,
    file: list[UploadFile],
    metadata: Annotated[str | None, Form()] = None,
) -> dict[str, list[dict[str, Any]]]:
    """Store each file, record it as ``uploaded`` and publish ``document.uploaded``.

    The same bytes uploaded again by the same tenant are not processed again: the
    reply names the existing document with ``"duplicate": true``.
    """
    meta = _parse_metadata(metadata)
    limit = state.settings.max_upload_bytes
    files: list[tuple[str, str | None, bytes]] = []
    for upload in file:
        name = PurePath(upload.filename or "").name
        if not name:
            raise HTTPException(422, "every file needs a filename")
        ext = PurePath(name).suffix.lower()
        if ext not in SUPPORTED_EXTENSIONS:
            raise HTTPException(
                415,
                f"{name}: unsupported file type {ext or '(none)'}; "
                f"supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))}",
            )
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise HTTPException(413, f"{name} is larger than the {limit}-byte upload limit")
        files.append((name, upload.content_type, data))

    out = []
    for name, content_type, data in files:
        digest = hashlib.sha256(data).hexdigest()
        existing = await state.documents.find_by_sha256(identity.tenant_id, digest)
        if existing is not None:
            out.append({**_summary(existing), "duplicate": True})
            continue
        doc_id = uuid.uuid4()
        key = blob_key(identity.tenant_id, doc_id, name)
        await state.blobs.put(key, data, content_type=content_type)
        record, _ = await state.documents.create(
            identity.tenant_id,
            doc_id,
            filename=name,
            content_type=content_type,
            sha256=digest,
            size_bytes=len(data),
            blob_key=key,
            metadata=meta,
            version=1,
        )
        event = DocumentUploaded(
            tenant_id=identity.tenant_id,
            document_id=doc_id,
            filename=name,
            content_type=content_type,
            blob_key=key,
            sha256=digest,
            size_bytes=len(data),
            metadata=meta,
        )
        try:
            await state.publisher.publish(event, s.DOCUMENT_UPLOADED, msg_id=f"{doc_id}:1")
        except Exception as exc:
            # Not acknowledged by JetStream: say so on the document instead of leaving
            # it "uploaded" forever, and let the client retry (failed rows don't dedup).
            log.exception("could not publish document.uploaded")
            await state.documents.set_status(
                identity.tenant_id,
                doc_id,
                DocumentStatus.FAILED,
                error=f"could not enqueue the document: {type(exc).__name__}",
                error_code="enqueue_failed",
            )
            raise HTTPException(
                503, f"{name}: could not enqueue the document; it is marked failed, retry"
            ) from None
        out.append({**_summary(record), "duplicate": False})
    return {"documents": out}


def _summary(record: DocumentRecord) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "filename": record.filename,
        "status": str(record.status),
        "sha256": record.sha256,
    }


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
