"""Response models of the OpenAI routes, for the OpenAPI document and the typed clients.

They follow OpenAI's ``ChatCompletion``, ``Model`` and ``CreateEmbeddingResponse``
with ragbus's extra fields (``citations``, ``ragbus``); the streamed chunks are
described in :mod:`gateway.chat_completions`.
"""

from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.queries import Citation


class Model(BaseModel):
    """A model a client may name (``GET /v1/models``).

    Attributes:
        id: ``ragbus`` (chat: answers from the tenant's documents) or the embedding
            model's id (``sentence-transformers/all-MiniLM-L6-v2``).
        created: Unix seconds (when this gateway started).
    """

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "ragbus"


class ModelList(BaseModel):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[Model]


class ChatMessageOut(BaseModel):
    """The answer: ``content`` cites ``[n]``; ``citations[n-1]`` is the source of ``[n]``."""

    role: Literal["assistant"] = "assistant"
    content: str
    citations: list[Citation | None] = Field(default_factory=list)


class ChatChoice(BaseModel):
    """The one choice of an answer."""

    index: int = 0
    message: ChatMessageOut
    finish_reason: Literal["stop", "length"] = "stop"
    logprobs: None = None


class CompletionUsage(BaseModel):
    """Tokens of the LLM call (0 for the offline answerer and for cached answers)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class RagbusExtras(BaseModel):
    """What ragbus adds to an answer: its query, the model that wrote it, how well its
    sources matched (``confidence``, 0-1), stage times in ms, and whether it was cached."""

    query_id: str
    model: str
    found: bool
    confidence: float | None = None
    timings: dict[str, float | None] = Field(default_factory=dict)
    cached: bool = False


class ChatCompletion(BaseModel):
    """``POST /v1/chat/completions`` unstreamed: OpenAI's ``chat.completion``.

    ``citations`` repeats ``choices[0].message.citations``: indexed as the ``[n]``
    markers, ``null`` for a number the answer skips.
    """

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: CompletionUsage
    citations: list[Citation | None]
    ragbus: RagbusExtras


class Embedding(BaseModel):
    """One vector: floats, or base64 of little-endian float32 (``encoding_format``)."""

    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    """Word pieces embedded (the model's own tokenizer)."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingsExtras(BaseModel):
    """Tokens per input, and the indices of inputs cut to the model's window."""

    token_counts: list[int]
    truncated: list[int]


class EmbeddingList(BaseModel):
    """``POST /v1/embeddings``: OpenAI's ``CreateEmbeddingResponse``."""

    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
    ragbus: EmbeddingsExtras


def schema_of(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """``responses`` entry declaring ``model`` as a route's 200 body (for routes that
    return a ``JSONResponse`` themselves)."""
    return {200: {"model": model, "description": "Successful Response"}}
