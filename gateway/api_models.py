"""Response models of ragbus's own routes, so ``/openapi.json`` types every answer.

The routes still build their JSON in their logic modules (``gateway/documents.py``,
``gateway/answer_stream.py``, ``gateway/conversations.py``); these models name and
type its fields for the OpenAPI document and the generated clients (the
TypeScript SDK). Each keeps fields it does not list (``extra="allow"``), and the
routes answer with ``response_model_exclude_unset``, so a field added to the JSON
is served before it is documented here, and an absent one stays absent. Times are
ISO 8601 strings, durations milliseconds.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from schemas.queries import Citation, Usage


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Progress(_Open):
    """Chunks embedded out of the document's total."""

    done: int = 0
    total: int = 0


class Document(_Open):
    """A document (``GET /v1/documents/{id}``); ``status`` is ``uploaded``, ``parsing``,
    ``embedding``, ``indexed``, ``failed`` or ``deleted``."""

    id: str
    filename: str
    status: str
    error: str | None = None
    error_code: str | None = None
    sha256: str | None = None
    title: str | None = None
    parser: str | None = None
    page_count: int | None = None
    parse_report: dict[str, Any] | None = None
    chunking: str | None = None
    chunks: int | None = None
    progress: Progress | None = None
    version: int | None = None
    searchable_version: int | None = None
    external_id: str | None = None
    metadata: dict[str, Any] | None = None
    created_at: str | None = None
    indexed_at: str | None = None


class DocumentList(_Open):
    """``GET /v1/documents``: one page, newest first."""

    documents: list[Document]


class UploadedDocument(_Open):
    """One file of an upload: the new document, or the existing one (``duplicate``)."""

    id: str
    filename: str
    status: str
    sha256: str | None = None
    version: int | None = None
    duplicate: bool = False


class Uploaded(_Open):
    """``POST /v1/documents`` (202): one entry per file."""

    documents: list[UploadedDocument]


class DocumentAccepted(_Open):
    """``DELETE /v1/documents/{id}`` and ``reprocess`` (202): the document's new status."""

    id: str
    status: str
    version: int | None = None


class RetrievedPassage(_Open):
    """A passage of ``POST /v1/retrieve``, best first."""

    chunk_id: str
    document_id: str
    filename: str
    title: str | None = None
    text: str
    score: float
    page: int | None = None
    heading: str | None = None
    chunk_index: int | None = None


class Retrieved(_Open):
    """``POST /v1/retrieve``: the passages and the stage times in ms (``total_ms`` ...)."""

    passages: list[RetrievedPassage]
    timings: dict[str, float | None]


class AnswerTimings(_Open):
    """Milliseconds spent retrieving, generating, and in all (``null`` when not run)."""

    retrieve_ms: float | None = None
    generate_ms: float | None = None
    total_ms: float | None = None


class Answer(_Open):
    """``POST /v1/query`` (JSON), and the ``done`` event of its stream.

    ``answer`` cites ``[n]``; ``citations`` has one entry per number it uses, found by
    ``n``. ``cached``/``cached_from`` only when the answer cache served it.
    """

    query_id: str
    answer: str
    citations: list[Citation]
    found: bool
    model: str
    confidence: float | None = None
    usage: Usage | None = None
    timings: AnswerTimings
    cached: bool | None = None
    cached_from: str | None = None


class QueryRecord(_Open):
    """A query in the history (``GET /v1/queries/{id}``): ``pending``, ``answered`` or
    ``failed``."""

    query_id: str
    status: Literal["pending", "answered", "failed"] | str
    question: str
    standalone_question: str | None = None
    conversation_id: str | None = None
    user_id: str | None = None
    answer: str | None = None
    citations: list[Citation] | None = None
    found: bool | None = None
    model: str | None = None
    confidence: float | None = None
    usage: Usage | None = None
    timings: dict[str, float | None] | None = None
    error_code: str | None = None
    error: str | None = None
    cached: bool = False
    cached_from: str | None = None
    created_at: str | None = None
    completed_at: str | None = None


class QueryList(_Open):
    """``GET /v1/queries``: newest first."""

    queries: list[QueryRecord]


class Conversation(_Open):
    """A conversation without its messages; ``visibility`` is ``private`` or ``tenant``."""

    id: str
    title: str | None = None
    visibility: str
    user_id: str | None = None
    created_at: str
    updated_at: str


class ConversationMessage(_Open):
    """A ``user`` message (``content``, ``query_id``) or an ``assistant`` one (``status``,
    ``content``, ``citations``, ``found``, ``confidence``, ``model``, ``timings``...)."""

    role: Literal["user", "assistant"]
    content: str | None = None
    query_id: str | None = None


class ConversationWithMessages(Conversation):
    """``GET /v1/conversations/{id}``: the conversation and its messages, oldest first."""

    messages: list[ConversationMessage]


class ConversationList(_Open):
    """``GET /v1/conversations``: most recently used first."""

    conversations: list[Conversation]


def typed(model: type[BaseModel]) -> dict[str, Any]:
    """Route keywords that declare ``model`` as the response and keep absent fields absent."""
    return {"response_model": model, "response_model_exclude_unset": True}
