"""Which event travels on which subject: the catalogue clients build against."""

from pydantic import BaseModel

from schemas import subjects as s
from schemas.conversations import CondenseQuestion, QuestionCondensed
from schemas.documents import (
    ChunksReady,
    DeleteDocument,
    DocumentDeleted,
    DocumentFailed,
    DocumentIndexed,
    DocumentStatusChanged,
    DocumentUploaded,
)
from schemas.embeddings import EmbedTexts, TextsEmbedded
from schemas.indexes import IndexStatusChanged, RebuildIndex
from schemas.queries import (
    AnswerDelta,
    AnswerFailed,
    AnswerReady,
    ContextRetrieved,
    PassagesRetrieved,
    QueryRequested,
    RetrievePassages,
)

EVENTS: dict[str, type[BaseModel]] = {
    s.DOCUMENT_UPLOADED: DocumentUploaded,
    s.DOCUMENT_STATUS: DocumentStatusChanged,
    s.DOCUMENT_INDEXED: DocumentIndexed,
    s.DOCUMENT_FAILED: DocumentFailed,
    s.DOCUMENT_DELETE: DeleteDocument,
    s.DOCUMENT_DELETED: DocumentDeleted,
    s.CHUNKS_READY: ChunksReady,
    s.INDEX_REBUILD: RebuildIndex,
    s.INDEX_STATUS: IndexStatusChanged,
    s.QUERY_REQUESTED: QueryRequested,
    s.CONTEXT_RETRIEVED: ContextRetrieved,
    s.ANSWER_DELTA: AnswerDelta,
    s.ANSWER_READY: AnswerReady,
    s.ANSWER_FAILED: AnswerFailed,
    s.PASSAGES_RETRIEVE: RetrievePassages,
    s.QUESTION_CONDENSE: CondenseQuestion,
    s.TEXTS_EMBED: EmbedTexts,
}
"""Subject family -> the event model published on it (contract v2)."""

REPLIES: dict[str, type[BaseModel]] = {
    s.PASSAGES_RETRIEVE: PassagesRetrieved,
    s.QUESTION_CONDENSE: QuestionCondensed,
    s.TEXTS_EMBED: TextsEmbedded,
}
"""Request-reply subject -> the reply model."""
