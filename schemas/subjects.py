"""NATS subject names of every ragbus event, the one place they are spelled out."""

from typing import Final

DOCUMENT_UPLOADED: Final = "document.uploaded"
DOCUMENT_STATUS: Final = "document.status"
DOCUMENT_INDEXED: Final = "document.indexed"
DOCUMENT_FAILED: Final = "document.failed"
DOCUMENT_DELETE: Final = "document.delete"
DOCUMENT_DELETED: Final = "document.deleted"
CHUNKS_READY: Final = "chunks.ready"
"""Family of the per-tenant chunk subjects: a batch is published on
``chunks.ready.<tenant token>`` (see :func:`chunks_ready_for`), so embed_svc can
serve tenants in turn instead of first come, first served."""

QUERY_REQUESTED: Final = "query.requested"
CONTEXT_RETRIEVED: Final = "context.retrieved"
ANSWER_DELTA: Final = "answer.delta"
ANSWER_READY: Final = "answer.ready"
ANSWER_FAILED: Final = "answer.failed"
PASSAGES_RETRIEVE: Final = "passages.retrieve"
"""Request-reply subject (core NATS) for retrieval without generation."""
QUESTION_CONDENSE: Final = "question.condense"
"""Request-reply subject (core NATS): a follow-up question made standalone (generate_svc)."""
TEXTS_EMBED: Final = "texts.embed"
"""Request-reply subject (core NATS): texts embedded with ragbus's model (embed_svc);
what ``POST /v1/embeddings`` sends."""


def tenant_token(tenant_id: str) -> str:
    """``tenant_id`` as one NATS subject token: ``.`` (a token separator) becomes ``~``.

    Tenant ids are letters, digits and ``._:@-`` (``schemas.envelope.TenantId``), so
    the mapping is reversible and two tenants never share a token.
    """
    return tenant_id.replace(".", "~")


def chunks_ready_for(tenant_id: str) -> str:
    """Subject of a tenant's ``chunks.ready`` batches: ``chunks.ready.<tenant token>``."""
    return f"{CHUNKS_READY}.{tenant_token(tenant_id)}"
