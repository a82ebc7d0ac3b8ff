"""``GET /v1/documents/{id}/events``: a document's progress pushed as SSE, never polled.

The stream (:mod:`gateway.document_stream`) opens with the document as Postgres has
it (event ``document``, the JSON of ``GET /v1/documents/{id}``), then sends one
``status`` event per ``document.status`` NATS event of that document, and ends with
``end`` once the status is final (``indexed``, ``failed`` or ``deleted``).
"""

import uuid

from fastapi import APIRouter
from sse_starlette import EventSourceResponse

from gateway.document_stream import PING_S, status_events
from gateway.documents import find_document
from gateway.errors import ERRORS
from gateway.identity import DocumentReaderDep
from gateway.state import StateDep

router = APIRouter(prefix="/v1/documents", tags=["documents"], responses=ERRORS)
SSE = {"text/event-stream": {"schema": {"type": "string"}}}


@router.get(
    "/{document_id}/events",
    response_model=None,
    response_class=EventSourceResponse,
    responses={200: {"description": "SSE: document, status..., end", "content": SSE}},
)
async def document_events(
    state: StateDep, identity: DocumentReaderDep, document_id: uuid.UUID
) -> EventSourceResponse:
    """Stream the document's status and progress until it is final (404 if unknown)."""
    await find_document(state, identity.tenant_id, document_id)
    return EventSourceResponse(status_events(state, identity.tenant_id, document_id), ping=PING_S)
