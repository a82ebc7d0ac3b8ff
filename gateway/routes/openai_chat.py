"""``POST /v1/chat/completions`` and ``GET /v1/models``: ragbus behind OpenAI's chat API.

Point any OpenAI client at ``http://<gateway>/v1`` with a ragbus API key as its
``api_key``. The last ``user`` message is the question; earlier
``user``/``assistant`` pairs are the history it is condensed with; ``system``
messages are ignored (ragbus uses its own grounded prompt). Which of OpenAI's
fields are honoured and which are refused: :mod:`gateway.chat_requests`.

Beyond OpenAI's fields, a response carries ``citations``, indexed as the text's
``[n]`` markers (``citations[n-1]`` is the source of ``[n]``, ``null`` for a
number the answer skips), on the message and at the top, and ``ragbus``
(``{"query_id", "model", "found", "confidence", "timings", "cached"}``); when
streamed, all are in the last chunk (``finish_reason: "stop"``), ``citations``
also in its ``delta``. Errors are OpenAI's ``{"error": {...}}``
(:mod:`gateway.openai_errors`).
"""

import time
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse

from gateway.chat_completions import ask_chat, completion, completion_chunks
from gateway.chat_requests import ChatBody
from gateway.conversation_turns import ConversationsDep, QueriesDep
from gateway.identity import AskerDep
from gateway.openai_errors import OPENAI_ERRORS, OpenAIError
from gateway.openai_models import ChatCompletion, Model, ModelList
from gateway.state import StateDep

router = APIRouter(prefix="/v1", tags=["openai"], responses=OPENAI_ERRORS)

CHAT_MODEL = "ragbus"
"""The chat model's id: answers from the tenant's documents (any ``model`` is accepted
and echoed; this is the one ``GET /v1/models`` lists)."""
_LISTED_AT = int(time.time())


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def chat_completions(
    state: StateDep,
    identity: AskerDep,
    body: ChatBody,
    queries: QueriesDep,
    conversations: ConversationsDep,
) -> Any:
    """Answer the last user message from the tenant's documents, OpenAI-style.

    Raises:
        OpenAIError: 400 for a refused or invalid field (named in ``param``), 404
            for an unknown conversation, 502 when the answer failed, 504 when none
            came in time.
    """
    answer = await ask_chat(state, queries, conversations, identity, body)
    if body.stream:
        return EventSourceResponse(completion_chunks(answer))
    return await completion(answer)


@router.get("/models", response_model=ModelList)
async def list_models(request: Request, identity: AskerDep) -> ModelList:
    """The models a client may name: ``ragbus`` (chat) and the embedding model."""
    return ModelList(data=_models(request))


@router.get("/models/{model_id:path}", response_model=Model)
async def retrieve_model(model_id: str, request: Request, identity: AskerDep) -> Model:
    """One model of :func:`list_models`.

    Raises:
        OpenAIError: 404 ``model_not_found`` for any other id.
    """
    for model in _models(request):
        if model.id == model_id:
            return model
    raise OpenAIError(
        404, f"the model {model_id!r} does not exist", param="model", code="model_not_found"
    )


def _models(request: Request) -> list[Model]:
    embed_model = request.app.state.resources.infra.embed_model
    return [
        Model(id=CHAT_MODEL, created=_LISTED_AT),
        Model(id=embed_model, created=_LISTED_AT),
    ]
