"""Composition root of the gateway: FastAPI app, NATS broker, stores and identity, wired once."""

import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
import nats
from fastapi import FastAPI
from faststream.nats import NatsBroker
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from deploy.nats_security import AUTH, GATEWAY
from gateway import errors, http_metrics
from gateway.answer_cache import AnswerCache, AnswerCacheSettings
from gateway.answer_cache_store import AnswerCacheRepository
from gateway.answer_hub import AnswerHub
from gateway.auth.authenticate import Authenticator
from gateway.auth.key_store import KeyStore
from gateway.auth.principal_store import PrincipalStore
from gateway.auth.quotas import QuotaLimits, Quotas
from gateway.auth.refresh_store import RefreshStore
from gateway.auth.sessions import Sessions
from gateway.auth.settings import AuthSettings, QuotaSettings
from gateway.auth.signing_keys import SigningKeys
from gateway.auth.tokens import AccessTokens, ExternalProvider
from gateway.body_limits import BodyLimits, route_limits
from gateway.document_status_hub import StatusHub
from gateway.nats_callout import NatsCallout
from gateway.routes import ROUTERS
from gateway.settings import GatewaySettings
from gateway.state import GatewayState
from gateway.tenant_settings_store import TenantSettingsRepository
from gateway.web.cors import add_cors
from ragbus.bus import EventPublisher
from ragbus.logs import bus_logger, configure_logging
from ragbus.nats_identity import (
    broker_connection,
    callout_seed,
    connect_options,
    without_credentials,
)
from ragbus.resources import Resources
from ragbus.runtime import declare_topology
from ragbus.settings import InfraSettings
from ragbus.telemetry import configure_tracing

log = logging.getLogger(__name__)


def create_app(
    infra: InfraSettings | None = None,
    settings: GatewaySettings | None = None,
    *,
    resources: Resources | None = None,
    cache_settings: AnswerCacheSettings | None = None,
    auth_settings: AuthSettings | None = None,
    quota_settings: QuotaSettings | None = None,
) -> FastAPI:
    """Build the gateway app.

    Args:
        infra: Connection settings (default: from the environment).
        settings: Gateway settings (default: from the environment).
        resources: Stores shared with services in the same process; the gateway
            opens (and closes) its own when omitted.
        cache_settings: Answer cache settings (default: from the environment).
        auth_settings: Authentication settings (default: from the environment).
        quota_settings: Default quotas (default: from the environment).
    """
    infra = infra or InfraSettings()
    settings = settings or GatewaySettings()
    cache_settings = cache_settings or AnswerCacheSettings()
    auth_settings = auth_settings or AuthSettings()
    quota_settings = quota_settings or QuotaSettings()
    if auth_settings.mode == "trusted-headers":
        log.warning(
            "trusted-headers mode: the tenant and user come from request headers; "
            "only an authenticating proxy may reach this gateway"
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = resources is None
        res = resources or Resources(infra)
        hub = AnswerHub()
        statuses = StatusHub()
        credentials = connect_options(infra, GATEWAY)
        servers, security = broker_connection(infra, GATEWAY)
        broker = NatsBroker(
            servers,
            name="ragbus-gateway",
            middlewares=[NatsTelemetryMiddleware()],
            max_reconnect_attempts=-1,
            security=security,
            logger=bus_logger(),  # not FastStream's own: a line per message at INFO
        )
        broker.include_router(hub.router())
        broker.include_router(statuses.router())
        pool = await res.pool()
        cache = AnswerCache(AnswerCacheRepository(pool), cache_settings)
        broker.include_router(cache.router())
        await declare_topology(infra.nats_url, **credentials)
        await broker.start()
        sessions, authenticator = identity(pool, auth_settings)
        callout = await start_callout(infra, sessions.keys)
        app.state.gateway = GatewayState(
            settings=settings,
            documents=await res.documents(),
            blobs=await res.blob_store(),
            publisher=EventPublisher(broker),
            hub=hub,
            statuses=statuses,
            tenants=TenantSettingsRepository(pool),
            ready=True,
            answer_cache=cache,
            auth=authenticator,
            quotas=quotas(pool, quota_settings, settings),
            sessions=sessions,
            nats_servers=client_servers(infra, settings) if callout is not None else [],
        )
        app.state.broker = broker
        app.state.resources = res
        try:
            yield
        finally:
            app.state.gateway.ready = False
            if callout is not None:
                await callout.drain()
            await broker.stop()
            if own:
                await res.close()

    # /docs and /redoc are gateway.routes.web's, with local assets (no CDN).
    app = FastAPI(title="ragbus", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    for router in ROUTERS:
        app.include_router(router)
    errors.install(app)
    http_metrics.install(app)
    app.add_middleware(
        BodyLimits,
        limit_for=route_limits(
            max_upload_bytes=settings.max_upload_bytes,
            max_upload_request_bytes=settings.max_upload_request_bytes,
            max_json_bytes=settings.max_json_bytes,
        ),
    )
    add_cors(app, settings)  # outside BodyLimits: its 413s carry CORS headers too
    # One server span per request: the ASGI receive/send spans (one per message) cost
    # about 15% of the gateway's CPU for an HTTP request (py-spy) and say nothing new.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"]
    )
    return app


def identity(pool: asyncpg.Pool, settings: AuthSettings) -> tuple[Sessions, Authenticator]:
    """The token and key manager, and the authenticator, on ``pool``."""
    signing = SigningKeys(pool, retire_after_s=settings.access_ttl_s + settings.leeway_s)
    provider = None
    if settings.oidc_jwks_url and settings.oidc_issuer and settings.oidc_audience:
        provider = ExternalProvider(
            jwks_url=settings.oidc_jwks_url,
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            algorithms=tuple(settings.oidc_algorithms),
            tenant_claim=settings.oidc_tenant_claim,
            role_claim=settings.oidc_role_claim,
        )
    tokens = AccessTokens(
        signing,
        issuer=settings.issuer,
        audience=settings.audience,
        ttl_s=settings.access_ttl_s,
        leeway_s=settings.leeway_s,
        provider=provider,
    )
    keys = KeyStore(pool)
    refresh = RefreshStore(pool, ttl_s=settings.refresh_ttl_s)
    sessions = Sessions(PrincipalStore(pool), keys, refresh, tokens)
    return sessions, Authenticator(settings, keys, tokens)


async def start_callout(infra: InfraSettings, keys: KeyStore) -> nats.NATS | None:
    """Answer NATS auth callouts (clients with API keys), when this gateway has the seed.

    Returns:
        The callout's own connection (close it with ``drain()``), or ``None`` when no
        ``RAGBUS_NATS_CALLOUT_SEED`` is configured (NATS without client access).
    """
    seed = callout_seed(infra)
    if seed is None:
        return None
    nc = await nats.connect(
        infra.nats_url,
        name="ragbus-auth-callout",
        max_reconnect_attempts=-1,
        **connect_options(infra, AUTH),  # type: ignore[arg-type]
    )
    await NatsCallout(keys, seed).serve(nc)
    return nc


def client_servers(infra: InfraSettings, settings: GatewaySettings) -> list[str]:
    """The NATS URLs clients are told (``GET /v1/nats``): ``RAGBUS_GATEWAY_PUBLIC_NATS_URL``
    when set (a load balancer's), else the gateway's own, without credentials."""
    return without_credentials(settings.public_nats_url or infra.nats_url)


def quotas(pool: asyncpg.Pool, limits: QuotaSettings, gateway: GatewaySettings) -> Quotas | None:
    """The quota keeper, or ``None`` when quotas are turned off."""
    if not limits.enabled:
        return None
    defaults = QuotaLimits(**limits.model_dump(exclude={"enabled"}))
    return Quotas(pool, defaults, query_lease_s=gateway.query_timeout_s + 30)


def main() -> None:
    """Run the gateway alone (uvicorn) against ``NATS_URL`` and ``DATABASE_URL``."""
    import uvicorn

    configure_logging()
    configure_tracing("gateway")
    settings = GatewaySettings()
    uvicorn.run(create_app(settings=settings), host=settings.host, port=settings.port)
