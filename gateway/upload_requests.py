"""Reading ``POST /v1/documents``: a JSON text or multipart files, into checked uploads.

The body is either ``application/json`` (:class:`~gateway.upload_checks.TextUpload`)
or ``multipart/form-data`` with one or more ``file`` fields and the optional
``metadata`` (a JSON object), ``external_id`` (a single file only) and ``chunking``
fields. Both become one :class:`UploadRequest`; nothing is stored here (that is
:mod:`gateway.uploads`).
"""

import asyncio
import json
import tempfile
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile as StarletteUpload

from gateway.body_limits import json_upload_limit
from gateway.request_checks import check_clean
from gateway.upload_checks import TextUpload, Upload, checked_name, checked_size, text_upload
from schemas import ChunkingStrategy

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


def inline_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` written in place of their ``#/$defs/...`` references:
    inside an OpenAPI document such a reference would resolve against the document's
    root, where no ``$defs`` is (openapi-typescript and Redocly refuse it)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return dict(resolve(schema))


OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": _MULTIPART_SCHEMA},
            "application/json": {"schema": inline_defs(TextUpload.model_json_schema())},
        },
    }
}
"""``openapi_extra`` of the upload route: FastAPI cannot infer a body read by hand."""

SPOOL_IN_MEMORY_BYTES = 1024 * 1024
"""A JSON upload body is kept in memory up to this size, then on disk while it arrives."""


@dataclass(frozen=True, slots=True)
class UploadRequest:
    """What one upload request asks for.

    Attributes:
        uploads: The documents' bytes, names checked and each within the size limit.
        metadata: Free-form JSON kept with every document.
        external_id: The client's key of the (single) document, if any.
        chunking: The requested strategy; None for the tenant's default.
    """

    uploads: list[Upload]
    metadata: dict[str, Any]
    external_id: str | None
    chunking: ChunkingStrategy | None


async def read_upload_request(request: Request, limit: int) -> UploadRequest:
    """Read and check the request's body, JSON or multipart.

    Args:
        request: The HTTP request of ``POST /v1/documents``.
        limit: Largest document in bytes (``max_upload_bytes``).

    Raises:
        HTTPException: 413 for a document (or JSON body) over ``limit``; 415 for an
            unsupported extension; 422 for a malformed form.
        RequestValidationError: a JSON body that is not a ``TextUpload`` (422).
    """
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        return await _read_json(request, limit)
    return await _read_form(request, limit)


async def _read_json(request: Request, limit: int) -> UploadRequest:
    raw = await _spooled_body(request, json_upload_limit(limit))
    try:
        body = TextUpload.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    upload = text_upload(body, limit)
    return UploadRequest([upload], body.metadata, body.external_id, body.chunking)


async def _spooled_body(request: Request, cap: int) -> bytes:
    """The body, spooled to a temporary file past 1 MiB while it streams in.

    A body refused for its size (``gateway.body_limits`` stops it at ``cap``) has
    then cost the gateway 1 MiB of memory, not the ``cap`` bytes it sent first.

    Raises:
        HTTPException: 413 past ``cap`` bytes.
    """
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as spool:
        size = 0
        async for piece in request.stream():
            size += len(piece)
            if size > cap:
                raise HTTPException(413, f"the body is over its limit of {cap} bytes")
            spool.write(piece)  # a page-cache write of one received piece (~64 KiB)
        spool.seek(0)
        return await asyncio.to_thread(spool.read)


async def _read_form(request: Request, limit: int) -> UploadRequest:
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
        if external_id is not None and "\x00" in external_id:
            raise HTTPException(422, "external_id contains a NUL character")
        uploads = []
        for part in parts:
            assert isinstance(part, StarletteUpload)
            name = checked_name(part.filename)
            data = checked_size(name, await part.read(limit + 1), limit)
            uploads.append(Upload(name, part.content_type, data))
    return UploadRequest(uploads, meta, external_id, requested)


def _parse_metadata(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"metadata is not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise HTTPException(422, "metadata must be a JSON object")
    try:
        check_clean(value, "metadata")
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return value


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
