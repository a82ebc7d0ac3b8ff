"""Accepting one upload: check it, dedup it, store it, record it, enqueue it.

A file and a raw text (``POST /v1/documents`` with JSON) take the same path: the
bytes go to the blob store and ``document.uploaded`` references them, so the size
limit and the dedup by SHA-256 apply alike.

Dedup: without ``external_id``, the same bytes as a live document of the tenant
name that document (``"duplicate": true``), also under concurrency: the row is
found or inserted under a lock on ``(tenant, sha256)``
(``DocumentRepository.create_or_find``), and an upload answers only once the
document is in JetStream. An upload whose enqueue failed leaves a row no listing
shows, which a retry of the same bytes reuses. With ``external_id``, only the
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
    Of concurrent uploads of the same bytes, each gets the same document and
    exactly one ``"duplicate": false`` (:func:`_enqueued_once`).

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
        existing = await _create(state, identity, upload, digest, metadata, external_id)
    if existing.sha256 == digest and existing.status != DocumentStatus.FAILED:
        # Ours, a concurrent upload's, or one whose enqueue failed: make sure it is
        # in the queue before answering for it.
        return summary(existing, duplicate=not await _enqueued_once(state, existing, chunking))
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
    await _enqueued_once(state, version, chunking)
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
) -> DocumentRecord:
    """A new document of these bytes, or the one a concurrent upload made first
    (same bytes without ``external_id``; same ``external_id`` otherwise)."""
    doc_id = uuid.uuid4()
    key = blob_key(identity.tenant_id, doc_id, upload.filename)
    row: dict[str, Any] = dict(filename=upload.filename, content_type=upload.content_type)
    row.update(sha256=digest, size_bytes=len(upload.data), blob_key=key, metadata=metadata)
    async with _blob_kept_only_if_recorded(state, key, upload):
        if external_id is None:
            record, created = await state.documents.create_or_find(
                identity.tenant_id, doc_id, uploaded_by=identity.principal_id, **row
            )
        else:
            record, created = await state.documents.create(
                identity.tenant_id,
                doc_id,
                external_id=external_id,
                uploaded_by=identity.principal_id,
                enqueued=False,
                **row,
            )
    if not created:  # our blob belongs to no row
        await state.blobs.delete(key)
    return record


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


async def _enqueued_once(
    state: GatewayState, record: DocumentRecord, chunking: ChunkingStrategy | None
) -> bool:
    """Make sure the row's current version is in JetStream; True if this call put it there.

    A version already enqueued is left alone (False). Otherwise it is published
    (``Nats-Msg-Id`` ``<id>:<version>``, so concurrent publishes of one version are
    stored once) and recorded; of concurrent callers only the one whose record
    lands first gets True: that upload is the original, the others duplicates.

    Raises:
        HTTPException: 503 when JetStream did not take it (see :func:`enqueue`).
    """
    if record.enqueued_version == record.version:
        return False
    return await enqueue(state, record, chunking)


async def enqueue(
    state: GatewayState, record: DocumentRecord, chunking: ChunkingStrategy | None = None
) -> bool:
    """Publish ``document.uploaded`` for the row's current version, chunked by ``chunking``.

    Returns:
        True if this call recorded the version as enqueued, False if a concurrent
        call had (``DocumentRepository.mark_enqueued``).

    Raises:
        HTTPException: 503 when JetStream did not take it. The row is left as it
            is, never enqueued: listings hide it, the client's retry of the same
            bytes finds it and enqueues it, and if none comes, ingest_svc's sweeper
            deletes it with its blob (:mod:`ingest_svc.sweeper`).
    """
    event = upload_event(record, chunking)
    if event.chunking is not None and str(event.chunking) != record.chunking:
        # Recorded before the publish, so the sweeper re-publishes with it too.
        await state.documents.set_chunking(record.tenant_id, record.id, event.chunking)
    try:
        await state.publisher.publish(
            event, s.DOCUMENT_UPLOADED, msg_id=f"{record.id}:{record.version}"
        )
    except Exception:
        log.exception("could not publish document.uploaded")
        raise HTTPException(
            503, f"{record.filename}: could not enqueue the document; retry"
        ) from None
    return await state.documents.mark_enqueued(record.tenant_id, record.id, record.version)
