"""NATS subject names of every ragbus event, the one place they are spelled out (contract v2).

Subjects that clients publish or receive carry the tenant as a token, so NATS
permissions can say "this client publishes and receives only tenant T's":

- ``document.uploaded.<tenant>``, ``document.delete.<tenant>``: clients and the
  gateway publish; ingest (and embed, for deletes) consume;
- ``document.status|indexed|failed|deleted.<tenant>``: services publish, clients
  receive their own tenant's;
- ``query.requested.<tenant>``: clients and the gateway publish; retrieve consumes;
- ``answer.ready.<tenant>``, ``answer.failed.<tenant>`` and
  ``answer.delta.<tenant>.<query_id>``: services publish, clients receive their own;
- ``chunks.ready.<tenant>``: internal (ingest to embed);
- ``index.rebuild.<tenant>``, ``index.status.<tenant>``: internal (a rebuild of the
  tenant's index: gateway and embed to ingest; its progress, from ingest and embed).

``context.retrieved``, the request-reply subjects and ``dlq.>`` are internal: only
services may use them. A tenant's token is its id with ``.`` written ``~``
(:func:`tenant_token`); ``*`` and ``>`` never occur in a tenant id.
"""

from typing import Final
from uuid import UUID

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

INDEX_REBUILD: Final = "index.rebuild"
"""Command family: replay a tenant's documents into a new index version."""
INDEX_STATUS: Final = "index.status"
"""Family of an index version's progress and state changes."""

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

TENANT_SCOPED: Final = frozenset(
    {
        DOCUMENT_UPLOADED,
        DOCUMENT_STATUS,
        DOCUMENT_INDEXED,
        DOCUMENT_FAILED,
        DOCUMENT_DELETE,
        DOCUMENT_DELETED,
        CHUNKS_READY,
        INDEX_REBUILD,
        INDEX_STATUS,
        QUERY_REQUESTED,
        ANSWER_READY,
        ANSWER_FAILED,
    }
)
"""Families published as ``<family>.<tenant token>``."""
PER_QUERY: Final = frozenset({ANSWER_DELTA})
"""Families published as ``<family>.<tenant token>.<query id>``."""


def tenant_token(tenant_id: str) -> str:
    """``tenant_id`` as one NATS subject token: ``.`` (a token separator) becomes ``~``.

    Tenant ids are letters, digits and ``._:@-`` (``schemas.envelope.TenantId``), so
    the mapping is reversible and two tenants never share a token.
    """
    return tenant_id.replace(".", "~")


def tenant_of_token(token: str) -> str:
    """The tenant id of a subject token (inverse of :func:`tenant_token`)."""
    return token.replace("~", ".")


def chunks_ready_for(tenant_id: str) -> str:
    """Subject of a tenant's ``chunks.ready`` batches: ``chunks.ready.<tenant token>``."""
    return f"{CHUNKS_READY}.{tenant_token(tenant_id)}"


def subject_for(family: str, tenant_id: str, query_id: UUID | str | None = None) -> str:
    """The concrete subject of an event of ``family`` for ``tenant_id``.

    Args:
        family: A subject family of this module.
        tenant_id: The event's tenant.
        query_id: The query of an ``answer.delta`` (required for that family).

    Returns:
        ``family`` itself for an internal subject, ``<family>.<tenant token>`` for a
        tenant-scoped one, ``answer.delta.<tenant token>.<query id>`` for deltas.

    Raises:
        ValueError: ``answer.delta`` without a ``query_id``.
    """
    if family in PER_QUERY:
        if query_id is None:
            raise ValueError(f"{family} needs the query id")
        return f"{family}.{tenant_token(tenant_id)}.{query_id}"
    if family in TENANT_SCOPED:
        return f"{family}.{tenant_token(tenant_id)}"
    return family


def every_tenant(family: str) -> str:
    """The subscription subject that matches ``family`` for every tenant."""
    if family in PER_QUERY:
        return f"{family}.*.*"
    if family in TENANT_SCOPED:
        return f"{family}.*"
    return family


def tenant_in(subject: str) -> str | None:
    """The tenant a concrete tenant-scoped ``subject`` names; ``None`` for another subject."""
    for family in TENANT_SCOPED | PER_QUERY:
        prefix = f"{family}."
        if subject.startswith(prefix):
            token = subject[len(prefix) :].split(".", 1)[0]
            return tenant_of_token(token) if token else None
    return None


def matches(pattern: str, subject: str) -> bool:
    """Whether NATS subject ``pattern`` (with ``*`` and ``>``) matches ``subject``."""
    wanted, tokens = pattern.split("."), subject.split(".")
    for i, part in enumerate(wanted):
        if part == ">":
            return len(tokens) > i
        if i >= len(tokens) or (part != "*" and part != tokens[i]):
            return False
    return len(tokens) == len(wanted)
