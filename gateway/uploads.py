"""Accepting one upload: check it, dedup it, store it, record it, enqueue it.

A file and a raw text (``POST /v1/documents`` with JSON) take the same path: the
bytes go to the blob store and ``document.uploaded`` references them, so the size
limit and the dedup by SHA-256 apply alike.

Dedup: without ``external_id``, the same bytes as a live document of the tenant
name that document (``"duplicate": true``). With ``external_id``, only the
document holding that key counts: the same bytes as its current version are a
duplicate (unless that version failed, which re-runs it); other bytes start its
next version, and the previous version stays searchable until the new one is
indexed. A key nobody holds creates a new document, even if other documents
have the same bytes, so the key keeps naming one document.

Reading the request is :mod:`gateway.upload_requests`; checking its names, sizes and
raw text is :mod:`gateway.upload_checks`.
"""

import contextlib
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import HTTPException

from gateway.auth.authenticate import Identity
from gateway.state import GatewayState
from gateway.upload_checks import Upload
from gateway.upload_requests import UploadRequest
from ragbus.document_lifecycle import upload_event
from ragbus.stores.blobs import blob_key
from ragbus.stores.documents import DocumentRecord
from schemas import ChunkingStrategy, DocumentStatus
from schemas import subjects as s

log = logging.getLogger(__name__)


async def resolve_chunking(
    state: GatewayState, tenant: str, requested: ChunkingStrategy | None
) -> ChunkingStrategy | None:
    """The upload's strategy, else the tenant's default, else ``None`` (ingest_svc's
    default, ``token_window``)."""
    if requested is not None or state.tenants is None:
        return requested
    stored = await state.tenants.get_chunking(tenant)
    return ChunkingStrategy(stored) if stored else None


def summary(record: DocumentRecord, *, duplicate: bool) -> dict[str, Any]:
    """The reply entry of one accepted upload."""
    return {
        "id": str(record.id),
        "filename": record.filename,
        "status": str(record.status),
        "sha256": record.sha256,
        "version": record.version,
        "external_id": record.external_id,
        "duplicate": duplicate,
    }


async def accept(
    state: GatewayState,
    identity: Identity,
    upload: Upload,
    metadata: dict[str, Any],
    external_id: str | None = None,
    chunking: ChunkingStrategy | None = None,
) -> dict[str, Any]:
    """Dedup, store, record and enqueue one upload; returns its :func:`summary`.

    ``chunking`` (already resolved by :func:`resolve_chunking`) goes on the event.

    Raises:
        HTTPException: 409 if the document was deleted during a new version's
            upload, 503 if ``document.uploaded`` could not be enqueued.
    """
    tenant = identity.tenant_id
    digest = hashlib.sha256(upload.data).hexdigest()
    docs = state.documents
    if external_id is None:
        existing = await docs.find_by_sha256(tenant, digest)
    else:
        existing = await docs.find_by_external_id(tenant, external_id)
    if existing is None:
        record, created = await _create(state, identity, upload, digest, metadata, external_id)
        if created:
            await enqueue(state, record, chunking)
            return summary(record, duplicate=False)
        existing = record  # a concurrent upload took the external_id first
    if existing.sha256 == digest and existing.status != DocumentStatus.FAILED:
        return summary(existing, duplicate=True)
    key = blob_key(tenant, existing.id, upload.filename)
    async with _blob_kept_only_if_recorded(state, key, upload):
        version = await docs.new_version(
            tenant,
            existing.id,
            sha256=digest,
            size_bytes=len(upload.data),
            blob_key=key,
            filename=upload.filename,
            content_type=upload.content_type,
            metadata=metadata,
        )
    if version is None:
        raise HTTPException(409, f"{upload.filename}: the document was deleted meanwhile; retry")
    await enqueue(state, version, chunking)
    return summary(version, duplicate=False)


async def accept_all(
    state: GatewayState, identity: Identity, request: UploadRequest
) -> list[dict[str, Any]]:
    """Accept every upload of a request, in order, under one resolved chunking strategy.

    The tenant's quotas (upload bytes per day, stored documents and bytes) are
    checked for the whole request first, so a refused request stores nothing.

    Returns:
        One :func:`summary` per upload.

    Raises:
        QuotaExceededError: the request would pass one of the tenant's quotas.
        HTTPException: as :func:`accept`, for the first upload that fails.
    """
    tenant = identity.tenant_id
    size = sum(len(u.data) for u in request.uploads)
    if state.quotas is not None:
        await state.quotas.check_upload(tenant, size, len(request.uploads))
    chunking = await resolve_chunking(state, tenant, request.chunking)
    accepted = [
        await accept(state, identity, upload, request.metadata, request.external_id, chunking)
        for upload in request.uploads
    ]
    if state.quotas is not None:
        await state.quotas.record_upload(tenant, size)
    return accepted


async def _create(
    state: GatewayState,
    identity: Identity,
    upload: Upload,
    digest: str,
    metadata: dict[str, Any],
    external_id: str | None,
) -> tuple[DocumentRecord, bool]:
    doc_id = uuid.uuid4()
    key = blob_key(identity.tenant_id, doc_id, upload.filename)
    async with _blob_kept_only_if_recorded(state, key, upload):
        record, created = await state.documents.create(
            identity.tenant_id,
            doc_id,
            filename=upload.filename,
            content_type=upload.content_type,
            sha256=digest,
            size_bytes=len(upload.data),
            blob_key=key,
            metadata=metadata,
            version=1,
            external_id=external_id,
            uploaded_by=identity.principal_id,
        )
    if not created:  # our blob belongs to no row
        await state.blobs.delete(key)
    return record, created


@contextlib.asynccontextmanager
async def _blob_kept_only_if_recorded(
    state: GatewayState, key: str, upload: Upload
) -> AsyncIterator[None]:
    """Store the upload's bytes at ``key``, and delete them if the body (the row's
    write) fails: no failed upload leaves a blob without a row. A blob orphaned by
    a crash in between is removed by ingest_svc's sweep of orphans."""
    await state.blobs.put(key, upload.data, content_type=upload.content_type)
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            await state.blobs.delete(key)
        raise


async def enqueue(
    state: GatewayState, record: DocumentRecord, chunking: ChunkingStrategy | None = None
) -> None:
    """Publish ``document.uploaded`` for the row's current version, chunked by ``chunking``.

    Raises:
        HTTPException: 503 when JetStream did not take it; the document is then
            marked failed (so the client's retry is not deduplicated against it).
    """
    event = upload_event(record, chunking)
    if event.chunking is not None and str(event.chunking) != record.chunking:
        # Recorded before the publish, so the sweeper re-publishes with it too.
        await state.documents.set_chunking(record.tenant_id, record.id, event.chunking)
    try:
        await state.publisher.publish(
            event, s.DOCUMENT_UPLOADED, msg_id=f"{record.id}:{record.version}"
        )
    except Exception as exc:
        # Not acknowledged by JetStream: say so on the document instead of leaving
        # it "uploaded" forever, and let the client retry (failed rows don't dedup).
        log.exception("could not publish document.uploaded")
        await state.documents.set_status(
            record.tenant_id,
            record.id,
            DocumentStatus.FAILED,
            error=f"could not enqueue the document: {type(exc).__name__}",
            error_code="enqueue_failed",
        )
        raise HTTPException(
            503, f"{record.filename}: could not enqueue the document; it is marked failed, retry"
        ) from None
