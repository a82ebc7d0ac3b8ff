"""Composition root of the gateway: FastAPI app, NATS broker and stores, wired once."""

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from faststream.nats import NatsBroker
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from gateway.answer_cache import AnswerCache, AnswerCacheSettings
from gateway.answer_cache_store import AnswerCacheRepository
from gateway.answer_hub import AnswerHub
from gateway.document_status_hub import StatusHub
from gateway.routes import (
    conversations,
    document_events,
    documents,
    embeddings,
    health,
    openai_chat,
    queries,
    query_history,
    tenant_settings,
)
from gateway.settings import GatewaySettings
from gateway.state import GatewayState
from gateway.tenant_settings_store import TenantSettingsRepository
from ragbus.bus import EventPublisher
from ragbus.logs import configure_logging
from ragbus.resources import Resources
from ragbus.runtime import declare_topology
from ragbus.settings import InfraSettings
from ragbus.telemetry import configure_tracing


def create_app(
    infra: InfraSettings | None = None,
    settings: GatewaySettings | None = None,
    *,
    resources: Resources | None = None,
    cache_settings: AnswerCacheSettings | None = None,
) -> FastAPI:
    """Build the gateway app.

    Args:
        infra: Connection settings (default: from the environment).
        settings: Gateway settings (default: from the environment).
        resources: Stores shared with services in the same process; the gateway
            opens (and closes) its own when omitted.
        cache_settings: Answer cache settings (default: from the environment).
    """
    infra = infra or InfraSettings()
    settings = settings or GatewaySettings()
    cache_settings = cache_settings or AnswerCacheSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = resources is None
        res = resources or Resources(infra)
        hub = AnswerHub()
        statuses = StatusHub()
        broker = NatsBroker(
            infra.nats_url,
            name="ragbus-gateway",
            middlewares=[NatsTelemetryMiddleware()],
            max_reconnect_attempts=-1,
        )
        broker.include_router(hub.router())
        broker.include_router(statuses.router())
        cache = AnswerCache(AnswerCacheRepository(await res.pool()), cache_settings)
        broker.include_router(cache.router())
        await declare_topology(infra.nats_url)
        await broker.start()
        app.state.gateway = GatewayState(
            settings=settings,
            documents=await res.documents(),
            blobs=await res.blob_store(),
            publisher=EventPublisher(broker),
            hub=hub,
            statuses=statuses,
            tenants=TenantSettingsRepository(await res.pool()),
            ready=True,
            answer_cache=cache,
        )
        app.state.broker = broker
        app.state.resources = res
        try:
            yield
        finally:
            app.state.gateway.ready = False
            await broker.stop()
            if own:
                await res.close()

    app = FastAPI(title="ragbus", version="0.1.0", lifespan=lifespan)
    app.include_router(documents.router)
    app.include_router(queries.router)
    app.include_router(document_events.router)
    app.include_router(tenant_settings.router)
    app.include_router(conversations.router)
    app.include_router(query_history.router)
    app.include_router(openai_chat.router)
    app.include_router(embeddings.router)
    app.include_router(health.router)

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
    return app


def main() -> None:
    """Run the gateway alone (uvicorn) against ``NATS_URL`` and ``DATABASE_URL``."""
    import uvicorn

    configure_logging()
    configure_tracing("gateway")
    settings = GatewaySettings()
    uvicorn.run(create_app(settings=settings), host=settings.host, port=settings.port)
