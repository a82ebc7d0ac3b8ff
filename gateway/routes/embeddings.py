"""``POST /v1/embeddings``: ragbus's embedding model behind OpenAI's embeddings API.

Point any OpenAI client at ``http://<gateway>/v1`` with a ragbus API key as its
``api_key`` (the tenant is the key's). The texts go to embed_svc as a
``texts.embed`` request (core NATS request-reply), which embeds them as passages
with the model that built the index. Body checks and response shapes are in
:mod:`gateway.embeddings_openai`, the request to embed_svc in :mod:`gateway.embeddings`;
see docs/api.md for limits and errors.
"""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.embeddings import embed_texts, read_json
from gateway.embeddings_openai import (
    OPENAPI_BODY,
    EmbeddingsError,
    embeddings_response,
    parse_body,
)
from gateway.identity import AskerDep
from gateway.openai_errors import OPENAI_ERRORS
from gateway.openai_models import EmbeddingList, schema_of
from gateway.state import StateDep

router = APIRouter(prefix="/v1", tags=["openai"], responses=OPENAI_ERRORS)


@router.post(
    "/embeddings",
    response_model=None,
    openapi_extra=OPENAPI_BODY,
    responses=schema_of(EmbeddingList),
)
async def create_embeddings(request: Request, state: StateDep, identity: AskerDep) -> JSONResponse:
    """One vector per input, OpenAI-style (``data[].embedding``, ``model``, ``usage``).

    Errors are in OpenAI's shape: 400 for a body that breaks a rule (named), 404
    ``model_not_found``, 413 for a body over 2 MiB, 503 when embed_svc does not
    answer in time or fails.
    """
    try:
        body = parse_body(await read_json(request))
        reply = await embed_texts(state, identity.tenant_id, body)
        return JSONResponse(embeddings_response(reply, body.encoding_format))
    except EmbeddingsError as exc:
        return JSONResponse(exc.body(), exc.status)
