"""What the gateway's routes share: stores, publisher, answer hub, settings."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from gateway.answers import AnswerHub
from gateway.settings import GatewaySettings
from ragbus.bus import EventPublisher
from ragbus.stores.blobs import BlobStore
from ragbus.stores.documents import DocumentRepository


@dataclass
class GatewayState:
    """Built once in the gateway's lifespan and read by every route."""

    settings: GatewaySettings
    documents: DocumentRepository
    blobs: BlobStore
    publisher: EventPublisher
    hub: AnswerHub
    ready: bool = False


def get_state(request: Request) -> GatewayState:
    """FastAPI dependency returning the :class:`GatewayState`."""
    return request.app.state.gateway  # type: ignore[no-any-return]


StateDep = Annotated[GatewayState, Depends(get_state)]
