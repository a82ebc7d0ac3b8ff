"""Public event contracts of ragbus, version 2.

Every message on the bus is one of the pydantic models exported here. Subject
names live in :mod:`schemas.subjects`; JSON Schema files for every event are
generated into ``schemas/jsonschema/v2`` (``ragbus schemas export``).

Compatibility rules: within a schema version only optional fields are added.
Producers forbid unknown fields; consumers ignore them.
"""

from schemas.documents import (
    MAX_CHUNKS_PER_BATCH,
    MAX_INLINE_TEXT_BYTES,
    SUPPORTED_EXTENSIONS,
    ChunkingStrategy,
    ChunkPayload,
    ChunksReady,
    DeleteDocument,
    DocumentDeleted,
    DocumentFailed,
    DocumentIndexed,
    DocumentStatus,
    DocumentStatusChanged,
    DocumentUploaded,
    Progress,
    chunk_id,
)
from schemas.embeddings import (
    MAX_EMBED_INPUT_CHARS,
    MAX_EMBED_INPUTS,
    MAX_EMBED_REQUEST_BYTES,
    EmbedErrorCode,
    EmbedTexts,
    TextsEmbedded,
)
from schemas.envelope import SCHEMA_VERSION, Envelope
from schemas.indexes import EmbeddingPrecision, IndexState, IndexStatusChanged, RebuildIndex
from schemas.queries import (
    AnswerDelta,
    AnswerFailed,
    AnswerReady,
    Citation,
    ContextRetrieved,
    Passage,
    PassagesRetrieved,
    QueryRequested,
    RetrievePassages,
    Timings,
)

__all__ = [
    "MAX_CHUNKS_PER_BATCH",
    "MAX_EMBED_INPUTS",
    "MAX_EMBED_INPUT_CHARS",
    "MAX_EMBED_REQUEST_BYTES",
    "MAX_INLINE_TEXT_BYTES",
    "SCHEMA_VERSION",
    "SUPPORTED_EXTENSIONS",
    "AnswerDelta",
    "AnswerFailed",
    "AnswerReady",
    "ChunkPayload",
    "ChunkingStrategy",
    "ChunksReady",
    "Citation",
    "ContextRetrieved",
    "DeleteDocument",
    "DocumentDeleted",
    "DocumentFailed",
    "DocumentIndexed",
    "DocumentStatus",
    "DocumentStatusChanged",
    "DocumentUploaded",
    "EmbedErrorCode",
    "EmbedTexts",
    "EmbeddingPrecision",
    "Envelope",
    "IndexState",
    "IndexStatusChanged",
    "Passage",
    "PassagesRetrieved",
    "Progress",
    "QueryRequested",
    "RebuildIndex",
    "RetrievePassages",
    "TextsEmbedded",
    "Timings",
    "chunk_id",
]
