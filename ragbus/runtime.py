"""Run one or several ragbus services on a NATS broker, and stop them cleanly.

A *service builder* is an async function ``(resources, publisher) -> NatsRouter``;
every service exposes one as ``<svc>.app.build``. ``ragbus serve NAME`` runs one
builder in its own process; ``ragbus up`` runs all of them in one process. Each
service gets its own broker, connected as its own NATS identity
(:mod:`ragbus.nats_identity`), so NATS holds every service to its permissions
whether it runs alone or beside the others.
"""

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import nats
from faststream.nats import NatsBroker, NatsRouter
from faststream.nats.opentelemetry import NatsTelemetryMiddleware

from deploy.jetstream import ensure_streams
from ragbus.bus import EventPublisher
from ragbus.dead_letter_advisories import advisory_router
from ragbus.health import Health, nats_connected, serve_health
from ragbus.invalid_events import InvalidEventMiddleware
from ragbus.logs import bus_logger, configure_logging
from ragbus.nats_identity import broker_connection, connect_options, identity_of
from ragbus.resources import Resources
from ragbus.settings import InfraSettings
from ragbus.telemetry import configure_tracing

log = logging.getLogger(__name__)


@dataclass
class ServiceParts:
    """What a service builder returns when a router alone is not enough.

    Attributes:
        router: The service's static subscribers.
        on_start: Called with the started broker (e.g. to open dynamic subscribers).
        on_stop: Called before the broker drains, in order.
    """

    router: NatsRouter
    on_start: Sequence[Callable[[NatsBroker], Awaitable[None]]] = ()
    on_stop: Sequence[Callable[[], Awaitable[None]]] = ()


ServiceBuilder = Callable[[Resources, EventPublisher], Awaitable[NatsRouter | ServiceParts]]

GRACEFUL_TIMEOUT_S = 30.0
"""Seconds a stopping broker waits for in-flight handlers before giving up."""


async def declare_topology(nats_url: str, **auth: str) -> None:
    """Create or update the JetStream streams (idempotent).

    Args:
        nats_url: The NATS server.
        **auth: ``user`` and ``password`` of an identity allowed to manage streams.
    """
    nc = await nats.connect(nats_url, name="ragbus-topology", **auth)  # type: ignore[arg-type]
    try:
        await ensure_streams(nc.jetstream())
    finally:
        await nc.close()


@dataclass
class RunningBus:
    """The started brokers (one per service) and their publishers; :meth:`stop` drains.

    Attributes:
        brokers: Each service's broker, in the order of the builders.
        publishers: Each broker's publisher, in the same order.
        parts: What each builder returned.
    """

    brokers: Sequence[NatsBroker]
    publishers: Sequence[EventPublisher]
    parts: Sequence[ServiceParts] = ()

    @property
    def broker(self) -> NatsBroker:
        """The first service's broker (the only one of a process that runs one service)."""
        return self.brokers[0]

    async def stop(self) -> None:
        """Stop consuming, wait for in-flight handlers, close the connections."""
        for part in self.parts:
            for hook in part.on_stop:
                await hook()
        for broker in self.brokers:
            await broker.stop()


def service_broker(infra: InfraSettings, identity: str, name: str) -> NatsBroker:
    """A broker connected as ``identity``, with the telemetry and invalid-event middlewares."""
    servers, security = broker_connection(infra, identity)
    return NatsBroker(
        servers,
        name=name,
        graceful_timeout=GRACEFUL_TIMEOUT_S,
        middlewares=[NatsTelemetryMiddleware(), InvalidEventMiddleware],
        max_reconnect_attempts=-1,
        security=security,
        logger=bus_logger(),  # not FastStream's own: a line per message at INFO
    )


async def start_bus(
    infra: InfraSettings,
    resources: Resources,
    builders: Sequence[ServiceBuilder],
    *,
    name: str = "ragbus",
) -> RunningBus:
    """Connect each service to NATS as itself, declare streams, include its router, start.

    The max-deliveries advisories are read by the first service's broker.

    Raises:
        nats.errors.NoServersError: if NATS is unreachable.
        nats.errors.Error: ``Authorization Violation`` with wrong credentials.
    """
    identities = [identity_of(build) for build in builders]
    await declare_topology(infra.nats_url, **connect_options(infra, identities[0]))
    brokers: list[NatsBroker] = []
    publishers: list[EventPublisher] = []
    parts: list[ServiceParts] = []
    for build, identity in zip(builders, identities, strict=True):
        broker = service_broker(infra, identity, f"{name}:{identity}")
        publisher = EventPublisher(broker)
        built = await build(resources, publisher)
        part = built if isinstance(built, ServiceParts) else ServiceParts(built)
        broker.include_router(part.router)
        if not brokers:
            broker.include_router(advisory_router(publisher))
        brokers.append(broker)
        publishers.append(publisher)
        parts.append(part)
    for broker, part in zip(brokers, parts, strict=True):
        await broker.start()
        for hook in part.on_start:
            await hook(broker)
    return RunningBus(brokers, publishers, parts)


async def wait_for_shutdown_signal() -> None:
    """Return on SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def run_services(
    builders: Sequence[ServiceBuilder], *, name: str, infra: InfraSettings | None = None
) -> None:
    """Run services in this process until SIGINT/SIGTERM, then drain and close.

    Draining: ``/readyz`` turns 503 at once, the broker stops pulling and waits up
    to :data:`GRACEFUL_TIMEOUT_S` for the messages in hand to be settled (acked, or
    nak'ed by the ack policy), then the connection closes. A handler still running
    after that is cancelled unsettled, and JetStream redelivers its message after
    ``ack_wait``. Health and metrics are served on ``RAGBUS_METRICS_PORT``
    (:mod:`ragbus.health`).
    """
    configure_logging()
    configure_tracing(name)
    health = Health()
    serve_health(health)
    infra = infra or InfraSettings()
    resources = Resources(infra)
    bus = await start_bus(infra, resources, builders, name=name)
    health.started(nats_connected(bus.broker))
    log.info("service started", extra={"service": name, "nats_url": infra.nats_url})
    try:
        await wait_for_shutdown_signal()
    finally:
        health.draining()
        log.info("draining", extra={"service": name})
        await bus.stop()
        await resources.close()
        log.info("service stopped", extra={"service": name})
