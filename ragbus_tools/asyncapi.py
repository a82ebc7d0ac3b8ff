"""The AsyncAPI document FastStream generates from ragbus's real subscribers."""

from typing import Any, cast

from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI

from embed_svc.handlers import build_router as embed_router
from embed_svc.settings import EmbedSettings
from gateway.answer_hub import AnswerHub
from generate_svc.handlers import build_router as generate_router
from ingest_svc.handlers import build_router as ingest_router
from ingest_svc.settings import IngestSettings
from ragbus import __version__
from retrieve_svc.handlers import build_router as retrieve_router
from retrieve_svc.settings import RetrieveSettings
from schemas import subjects as s
from schemas.catalog import EVENTS

PUBLISHED_ONLY = (
    s.DOCUMENT_STATUS,
    s.DOCUMENT_INDEXED,
    s.DOCUMENT_FAILED,
    s.DOCUMENT_DELETED,
)


class _NotRun:
    """Stands in for a service whose handlers are described, never run."""

    def __getattr__(self, name: str) -> Any:
        async def never(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError(f"{name} was called while only describing the handlers")

        return never


def asyncapi_json() -> str:
    """AsyncAPI 3.0 JSON for every subscriber (handlers are registered, never run)."""
    broker = NatsBroker()
    none = cast(Any, _NotRun())  # services are not needed to describe the handlers
    broker.include_router(ingest_router(none, IngestSettings()))
    broker.include_router(embed_router(none, EmbedSettings(), none, none).router)
    broker.include_router(retrieve_router(none, RetrieveSettings()))
    broker.include_router(generate_router(none))
    broker.include_router(AnswerHub().router())
    for family in PUBLISHED_ONLY:
        subject = f"{family}.{{tenant}}"
        broker.publisher(subject, schema=EVENTS[family], title=f"{subject}:publish")
    # embed_svc opens one subscriber per tenant at run time (embed_svc.tenant_lanes); the
    # contract is the per-tenant subject ingest_svc publishes.
    lane = f"{s.CHUNKS_READY}.{{tenant}}"
    broker.publisher(lane, schema=EVENTS[s.CHUNKS_READY], title=f"{lane}:publish")
    spec = AsyncAPI(
        broker,
        title="ragbus",
        version=__version__,
        description=(
            "Event contracts of ragbus, schema version 2. Subjects and payloads are"
            " public. A client-facing subject ends in its tenant's token ({tenant}: the"
            " tenant id with '.' written '~'); answer.delta adds the query id. Clients"
            " connect with one of their tenant's API keys as the connect token and"
            " the inbox prefix _INBOX.{tenant}; GET /v1/nats on the gateway gives the"
            " server URLs and the caller's subjects (docs/events.md)."
        ),
    )
    return spec.to_specification().to_json()
