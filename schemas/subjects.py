"""NATS subject names of every ragbus event, the one place they are spelled out."""

from typing import Final

DOCUMENT_UPLOADED: Final = "document.uploaded"
DOCUMENT_STATUS: Final = "document.status"
DOCUMENT_INDEXED: Final = "document.indexed"
DOCUMENT_FAILED: Final = "document.failed"
DOCUMENT_DELETE: Final = "document.delete"
DOCUMENT_DELETED: Final = "document.deleted"
CHUNKS_READY: Final = "chunks.ready"

QUERY_REQUESTED: Final = "query.requested"
CONTEXT_RETRIEVED: Final = "context.retrieved"
ANSWER_DELTA: Final = "answer.delta"
ANSWER_READY: Final = "answer.ready"
ANSWER_FAILED: Final = "answer.failed"
PASSAGES_RETRIEVE: Final = "passages.retrieve"
"""Request-reply subject (core NATS) for retrieval without generation."""
