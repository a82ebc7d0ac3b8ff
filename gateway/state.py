"""What the gateway's routes share: stores, publisher, answer and status hubs, settings."""

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from gateway.answer_cache import AnswerCache
from gateway.answer_hub import AnswerHub
from gateway.auth.authenticate import Authenticator, AuthError
from gateway.auth.quotas import Quotas
from gateway.auth.sessions import Sessions
from gateway.document_status_hub import StatusHub
from gateway.settings import GatewaySettings
from gateway.tenant_settings_store import TenantSettingsRepository
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
    statuses: StatusHub = field(default_factory=StatusHub)
    tenants: TenantSettingsRepository | None = None  # None: no tenant defaults
    answer_cache: AnswerCache | None = None  # None: every query answered afresh
    auth: Authenticator | None = None  # None: every request is refused (fail closed)
    quotas: Quotas | None = None  # None: no rate limits or quotas (unit tests)
    sessions: Sessions | None = None  # None: no token exchange, keys or users routes
    nats_servers: list[str] = field(default_factory=list)  # empty: no NATS clients

    def require_sessions(self) -> Sessions:
        """The token and key manager.

        Raises:
            AuthError: 503 when this gateway runs without one (trusted headers).
        """
        if self.sessions is None:
            raise AuthError(503, "auth_unavailable", "tokens and keys are not managed here")
        return self.sessions

    def require_quotas(self) -> Quotas:
        """The quota keeper.

        Raises:
            AuthError: 503 when this gateway runs without one.
        """
        if self.quotas is None:
            raise AuthError(503, "quotas_unavailable", "quotas are not kept here")
        return self.quotas


async def get_state(request: Request) -> GatewayState:
    """FastAPI dependency returning the :class:`GatewayState`."""
    return request.app.state.gateway  # type: ignore[no-any-return]


StateDep = Annotated[GatewayState, Depends(get_state)]
