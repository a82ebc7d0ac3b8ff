"""``POST /v1/embeddings``: ragbus's embedding model behind OpenAI's embeddings API.

Point any OpenAI client at ``http://<gateway>/v1`` (the API key is ignored; the
tenant comes from ``X-Tenant-ID`` as everywhere). The texts go to embed_svc as a
``texts.embed`` request (core NATS request-reply), which embeds them as passages
with the model that built the index. Body checks and response shapes are in
:mod:`gateway.embeddings_openai`; see docs/api.md for limits and errors.
"""

import json
from datetime import timedelta
from typing import Any

import nats.errors
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.embeddings_openai import (
    MAX_BODY_BYTES,
    OPENAPI_BODY,
    EmbeddingsBody,
    EmbeddingsError,
    embeddings_response,
    parse_body,
)
from gateway.identity import IdentityDep
from gateway.state import GatewayState, StateDep
from schemas import EmbedErrorCode, EmbedTexts, TextsEmbedded
from schemas import subjects as s
from schemas.envelope import utcnow

router = APIRouter(prefix="/v1", tags=["openai"])

UNAVAILABLE = "the embedding service is unavailable or busy; try again"
"""The one message of every 503: what failed behind the gateway is in its logs."""

_STATUS = {
    EmbedErrorCode.MODEL_NOT_FOUND: (404, "model"),
    EmbedErrorCode.DIMENSIONS_UNSUPPORTED: (400, "dimensions"),
    EmbedErrorCode.TOO_MANY_INPUTS: (400, "input"),
}
"""Refusals the caller can fix: their status and the field at fault."""


@router.post("/embeddings", response_model=None, openapi_extra=OPENAPI_BODY)
async def create_embeddings(
    request: Request, state: StateDep, identity: IdentityDep
) -> JSONResponse:
    """One vector per input, OpenAI-style (``data[].embedding``, ``model``, ``usage``).

    Errors are in OpenAI's shape: 400 for a body that breaks a rule (named), 404
    ``model_not_found``, 413 for a body over 2 MiB, 503 when embed_svc does not
    answer in time or fails.
    """
    try:
        body = parse_body(await _read_json(request))
        reply = await _embed(state, identity.tenant_id, body)
        return JSONResponse(embeddings_response(reply, body.encoding_format))
    except EmbeddingsError as exc:
        return JSONResponse(exc.body(), exc.status)


async def _read_json(request: Request) -> Any:
    """The body decoded, read up to :data:`MAX_BODY_BYTES`.

    Raises:
        EmbeddingsError: 413 when larger, 400 when not JSON.
    """
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            message = f"the body is over {MAX_BODY_BYTES} bytes; send fewer inputs per request"
            raise EmbeddingsError(413, message)
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except ValueError:  # also bad UTF-8
        raise EmbeddingsError(400, "the body is not valid JSON", param="body") from None


async def _embed(state: GatewayState, tenant_id: str, body: EmbeddingsBody) -> TextsEmbedded:
    """Ask embed_svc over ``texts.embed``.

    Raises:
        EmbeddingsError: the refusal as 400/404; 413 over NATS' payload; 503 when
            no replica answers within ``embeddings_timeout_s`` or embedding failed.
    """
    timeout_s = state.settings.embeddings_timeout_s
    request = EmbedTexts(
        tenant_id=tenant_id,
        texts=body.texts,
        model=body.model,
        dimensions=body.dimensions,
        expires_at=utcnow() + timedelta(seconds=timeout_s),
    )
    try:
        raw = await state.publisher.request(request, s.TEXTS_EMBED, timeout_s=timeout_s)
    except nats.errors.MaxPayloadError:
        raise EmbeddingsError(413, "the inputs are too large for one request") from None
    except (TimeoutError, nats.errors.Error):  # no responders, no connection, no reply
        raise EmbeddingsError(503, UNAVAILABLE) from None
    reply = TextsEmbedded.model_validate(raw)
    if reply.error_code is None:
        return reply
    if reply.error_code in _STATUS:
        status, param = _STATUS[EmbedErrorCode(reply.error_code)]
        raise EmbeddingsError(status, reply.error or "", param=param, code=reply.error_code)
    raise EmbeddingsError(503, UNAVAILABLE)
