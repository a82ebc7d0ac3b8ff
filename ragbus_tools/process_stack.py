"""``ragbus up --processes [--cluster N]``: every service in its own supervised processes.

The same embedded servers as ``ragbus up`` (:func:`ragbus_tools.stack.embedded_servers`:
Postgres from pgserver, nats-server from the wheel unless the URLs are given), or a
JetStream cluster of ``N`` nodes on loopback with R3 streams. Each service runs as
``python -m <package>`` replicas under :class:`~ragbus_tools.supervisor.Supervisor`;
the vectors live in pgvector, since Qdrant's local mode admits one process only.
The supervisor's status (``ragbus status``) is served on loopback, and its address
is written to ``<data dir>/processes.json``.
"""

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import nats

from deploy.jetstream import JetStreamSettings, ensure_streams
from deploy.nats_security import ADMIN, AUTH, GATEWAY
from gateway.auth.bootstrap import bootstrap_admin
from ragbus.nats_identity import callout_seed, connect_options
from ragbus.resources import Resources
from ragbus.runtime import GRACEFUL_TIMEOUT_S, wait_for_shutdown_signal
from ragbus.settings import InfraSettings
from ragbus_tools.process_status import PROCESSES_FILE, serve_status
from ragbus_tools.servers.nats_cluster import NatsCluster, start_nats_cluster
from ragbus_tools.servers.ports import free_ports
from ragbus_tools.stack import DEFAULT_TENANT, announce, check_port_free, embedded_servers
from ragbus_tools.supervisor import ReplicaSpec, Supervisor

log = logging.getLogger(__name__)

MODULES = {
    "gateway": "gateway",
    "ingest": "ingest_svc",
    "embed": "embed_svc",
    "retrieve": "retrieve_svc",
    "generate": "generate_svc",
}
"""Service name -> the package run as ``python -m``."""
DRAIN_GRACE_S = GRACEFUL_TIMEOUT_S + 10
"""A replica's broker waits 30 s for in-flight work; then it closes and exits."""


@dataclass(frozen=True, slots=True)
class ProcessPlan:
    """What process mode runs.

    Attributes:
        replicas: Replicas per service (``gateway`` included).
        cluster: nats-server nodes; 1 is the single embedded server.
        host: The gateway's interface.
        port: The first gateway replica's port; replica ``i`` listens on ``port + i``.
        tenant: Tenant of the admin key made on the first start (as ``ragbus up``).
    """

    replicas: dict[str, int]
    cluster: int = 1
    host: str = "127.0.0.1"
    port: int = 8000
    tenant: str = DEFAULT_TENANT


def replica_specs(
    plan: ProcessPlan, infra: InfraSettings, nats_urls: list[str], stream_replicas: int
) -> list[ReplicaSpec]:
    """One spec per replica; each replica gets its own health port and log file.

    Replicas connect to the cluster's nodes in turn (the client then learns the
    others), so a node's loss disconnects only a part of them.
    """
    workers = [(svc, i) for svc, n in plan.replicas.items() if svc != "gateway" for i in range(n)]
    ports = free_ports(len(workers))
    common = {
        "DATABASE_URL": infra.database_url or "",
        "RAGBUS_DATA_DIR": str(infra.data_dir),
        "RAGBUS_VECTOR_STORE": infra.vector_store,
        "RAGBUS_JETSTREAM_REPLICAS": str(stream_replicas),
    }
    if "RAGBUS_EMBED_THREADS" not in os.environ:  # the model's replicas share the cores
        embedders = plan.replicas.get("embed", 1) + plan.replicas.get("retrieve", 1)
        common["RAGBUS_EMBED_THREADS"] = str(max(1, len(os.sched_getaffinity(0)) // embedders))
    specs = []
    for k, ((svc, i), port) in enumerate(zip(workers, ports, strict=True)):
        env = {
            **os.environ,
            **common,
            **nats_identity_env(infra, MODULES[svc].replace("_", "-")),
            "NATS_URL": nats_urls[k % len(nats_urls)],
            "RAGBUS_METRICS_PORT": str(port),
        }
        specs.append(_spec(infra, svc, i, env, f"http://127.0.0.1:{port}/readyz"))
    for i in range(plan.replicas.get("gateway", 1)):
        port = plan.port + i
        env = {
            **os.environ,
            **common,
            **nats_identity_env(infra, GATEWAY),
            "NATS_URL": nats_urls[i % len(nats_urls)],
            "RAGBUS_GATEWAY_HOST": plan.host,
            "RAGBUS_GATEWAY_PORT": str(port),
        }
        probe_host = "127.0.0.1" if plan.host in ("0.0.0.0", "") else plan.host
        specs.append(_spec(infra, "gateway", i, env, f"http://{probe_host}:{port}/readyz"))
    return specs


def nats_identity_env(infra: InfraSettings, identity: str) -> dict[str, str]:
    """The environment that makes a replica connect to NATS as ``identity`` and no other.

    Each replica gets its own identity's password only (``NATS_USER``/``NATS_PASSWORD``,
    as in Compose and Kubernetes), not the file of every password; the gateway also
    gets the auth callout's identity and signing seed. ``{}`` without credentials.
    """
    if infra.nats_credentials is None:
        return {}
    mine = infra.model_copy(update={"nats_user": None})
    env: dict[str, str] = {}
    auth = connect_options(mine, identity)
    if auth:
        env |= {"NATS_USER": auth["user"], "NATS_PASSWORD": auth["password"]}
    if identity == GATEWAY:
        seed = callout_seed(mine)
        env |= {"RAGBUS_NATS_CALLOUT_SEED": seed or ""}
        callout = connect_options(mine, AUTH)
        env |= {"RAGBUS_NATS_CALLOUT_PASSWORD": callout.get("password", "")}
    return env


def _spec(
    infra: InfraSettings, svc: str, i: int, env: dict[str, str], health_url: str
) -> ReplicaSpec:
    log_path = Path(infra.data_dir) / "logs" / f"{svc}-{i}.log"
    argv = [sys.executable, "-m", MODULES[svc]]
    return ReplicaSpec(f"{svc}#{i}", argv, env, health_url, log_path)


@contextlib.asynccontextmanager
async def nats_for(plan: ProcessPlan, infra: InfraSettings) -> AsyncIterator[NatsCluster | None]:
    """A JetStream cluster of ``plan.cluster`` nodes, unless one node or NATS_URL is asked."""
    if plan.cluster <= 1 or "nats_url" in infra.model_fields_set:
        yield None
        return
    data_dir, size = Path(infra.data_dir), plan.cluster
    cluster = await asyncio.to_thread(
        lambda: start_nats_cluster(data_dir.resolve(), size, authenticated=True)
    )
    try:
        yield cluster
    finally:
        await asyncio.to_thread(cluster.stop)


async def keep_nodes_alive(cluster: NatsCluster, every_s: float = 1.0) -> None:
    """Start again any node of ``cluster`` that died, on its own port and store."""
    while True:
        for node in cluster.nodes:
            if node.pid is None:
                log.warning("nats node down; restarting", extra={"server": node.server_name})
                try:
                    await asyncio.to_thread(node.start)
                except Exception:  # retried on the next round
                    log.exception("nats node did not restart", extra={"server": node.server_name})
        await asyncio.sleep(every_s)


async def run_processes(infra: InfraSettings, plan: ProcessPlan) -> None:
    """Run the stack as supervised processes until SIGINT/SIGTERM, then drain them all.

    As ``ragbus up`` (:func:`ragbus_tools.stack.run_stack`), the first start makes the
    tenant's admin key and ``stack.json``; the gateways' ports are checked first.

    Raises:
        PortTakenError: a gateway's port is in use.
    """
    for i in range(plan.replicas.get("gateway", 1)):
        check_port_free(plan.host, plan.port + i)
    if infra.vector_store == "qdrant" and not infra.qdrant_url:
        if "vector_store" in infra.model_fields_set:
            raise ValueError("Qdrant local mode admits one process: set QDRANT_URL or pgvector")
        infra = infra.model_copy(update={"vector_store": "pgvector"})
    async with contextlib.AsyncExitStack() as stack:
        cluster = await stack.enter_async_context(nats_for(plan, infra))
        if cluster is not None:
            assert cluster.credentials is not None
            update = {"nats_url": cluster.urls[0], "nats_credentials": cluster.credentials.path}
            infra = infra.model_copy(update=update)
        infra = await stack.enter_async_context(embedded_servers(infra))
        # NATS_URL may list several servers, comma-separated (an external cluster).
        urls = cluster.urls if cluster else infra.nats_url.split(",")
        stream_replicas = min(3, len(urls)) if cluster else JetStreamSettings().replicas
        admin = connect_options(infra, ADMIN)
        nc = await nats.connect(urls, name="ragbus-topology", **admin)  # type: ignore[arg-type]
        try:  # once here, so the replicas do not all race to create the streams
            await ensure_streams(nc.jetstream(), JetStreamSettings(replicas=stream_replicas))
        finally:
            await nc.close()
        resources = Resources(infra)
        try:  # the same first admin key as `ragbus up`
            new_key = await bootstrap_admin(await resources.pool(), plan.tenant)
        finally:
            await resources.close()
        supervisor = Supervisor(replica_specs(plan, infra, urls, stream_replicas))
        await supervisor.start()
        watch = asyncio.create_task(keep_nodes_alive(cluster)) if cluster else None
        status = await serve_status(supervisor, cluster)
        stack.push_async_callback(_close_server, status)
        port = status.sockets[0].getsockname()[1]
        gateway = f"http://{plan.host}:{plan.port}"
        record = {"status_url": f"http://127.0.0.1:{port}", "gateway_url": gateway, "nats": urls}
        (Path(infra.data_dir) / PROCESSES_FILE).write_text(json.dumps(record, indent=2) + "\n")
        await announce(infra, gateway, plan.tenant, new_key)
        print(f"  {len(supervisor.replicas)} processes; NATS {', '.join(urls)}", flush=True)
        print(
            f"  streams R{stream_replicas}; ragbus status --data-dir {infra.data_dir}", flush=True
        )
        try:
            await wait_for_shutdown_signal()
        finally:
            if watch is not None:
                watch.cancel()
            codes = await supervisor.stop(DRAIN_GRACE_S)
            log.info("replicas stopped", extra={"exit_codes": codes})
            (Path(infra.data_dir) / PROCESSES_FILE).unlink(missing_ok=True)


async def _close_server(server: asyncio.Server) -> None:
    server.close()
    await server.wait_closed()
