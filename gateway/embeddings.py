"""Embedding texts for ``POST /v1/embeddings``: the body read, the texts sent to embed_svc.

The texts go to embed_svc as a ``texts.embed`` request (core NATS request-reply),
which embeds them as passages with the model that built the index. Checking the
body and shaping the reply are :mod:`gateway.embeddings_openai`; every refusal is
an :class:`~gateway.embeddings_openai.EmbeddingsError`, which the route answers in
OpenAI's error shape.
"""

import json
from datetime import timedelta
from typing import Any

import nats.errors
from fastapi import Request

from gateway.embeddings_openai import MAX_BODY_BYTES, EmbeddingsBody, EmbeddingsError
from gateway.state import GatewayState
from schemas import EmbedErrorCode, EmbedTexts, TextsEmbedded
from schemas import subjects as s
from schemas.envelope import utcnow

UNAVAILABLE = "the embedding service is unavailable or busy; try again"
"""The one message of every 503: what failed behind the gateway is in its logs."""

_STATUS = {
    EmbedErrorCode.MODEL_NOT_FOUND: (404, "model"),
    EmbedErrorCode.DIMENSIONS_UNSUPPORTED: (400, "dimensions"),
    EmbedErrorCode.TOO_MANY_INPUTS: (400, "input"),
}
"""Refusals the caller can fix: their status and the field at fault."""


async def read_json(request: Request) -> Any:
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


async def embed_texts(state: GatewayState, tenant_id: str, body: EmbeddingsBody) -> TextsEmbedded:
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
