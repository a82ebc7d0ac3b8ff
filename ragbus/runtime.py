"""Run one or several ragbus services on a NATS broker, and stop them cleanly.

A *service builder* is an async function ``(resources, publisher) -> NatsRouter``;
every service exposes one as ``<svc>.app.build``. ``ragbus serve NAME`` runs one
builder in its own process; ``ragbus up`` runs all of them on one broker.
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
from ragbus.logs import configure_logging
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


async def declare_topology(nats_url: str) -> None:
    """Create or update the JetStream streams (idempotent)."""
    nc = await nats.connect(nats_url, name="ragbus-topology")
    try:
        await ensure_streams(nc.jetstream())
    finally:
        await nc.close()


@dataclass
class RunningBus:
    """A started broker with its publisher; :meth:`stop` drains it."""

    broker: NatsBroker
    publisher: EventPublisher
    parts: Sequence[ServiceParts] = ()

    async def stop(self) -> None:
        """Stop consuming, wait for in-flight handlers, close the connection."""
        for part in self.parts:
            for hook in part.on_stop:
                await hook()
        await self.broker.stop()


async def start_bus(
    infra: InfraSettings,
    resources: Resources,
    builders: Sequence[ServiceBuilder],
    *,
    name: str = "ragbus",
) -> RunningBus:
    """Connect to NATS, declare streams, include every service's router and start.

    Raises:
        nats.errors.NoServersError: if NATS is unreachable.
    """
    await declare_topology(infra.nats_url)
    broker = NatsBroker(
        infra.nats_url,
        name=name,
        graceful_timeout=GRACEFUL_TIMEOUT_S,
        middlewares=[NatsTelemetryMiddleware()],
        max_reconnect_attempts=-1,
    )
    publisher = EventPublisher(broker)
    parts = []
    for build in builders:
        built = await build(resources, publisher)
        part = built if isinstance(built, ServiceParts) else ServiceParts(built)
        broker.include_router(part.router)
        parts.append(part)
    broker.include_router(advisory_router(publisher))
    await broker.start()
    for part in parts:
        for hook in part.on_start:
            await hook(broker)
    return RunningBus(broker, publisher, parts)


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
