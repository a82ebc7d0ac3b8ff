"""nats-server configuration, rendered from parts in one place.

Every nats-server ragbus runs or ships is configured by :func:`render_nats_config`:
the embedded server of ``ragbus up``, each node of the local cluster
(:mod:`ragbus_tools.servers.nats_cluster`), ``deploy/compose/nats.conf`` and the
NATS ConfigMap of ``deploy/k8s`` (both written by :mod:`ragbus_tools.deploy_files`).
Authentication (``authorization`` or ``accounts`` blocks, a cluster's route
credentials) is added here, once, through :attr:`NatsConfig.security` and
:attr:`ClusterConfig.security`, and reaches all of them.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_PAYLOAD = "8MB"  # largest message; nats-server warns above 8 MB


@dataclass(frozen=True, slots=True)
class EnvRef:
    """A value nats-server reads from its environment at start (``$NAME``)."""

    name: str


Value = str | EnvRef


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """The ``cluster`` block: how the nodes of one JetStream cluster find each other.

    Attributes:
        name: Cluster name, the same on every node.
        listen: ``host:port`` this node accepts routes on.
        routes: Route URLs of every node (its own included: the server skips it).
        security: Extra lines inside the block (route ``authorization``), verbatim.
    """

    name: str
    listen: str
    routes: Sequence[str]
    security: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class NatsConfig:
    """The parts of a nats-server configuration that ragbus sets.

    Attributes:
        server_name: Unique per node; a JetStream cluster knows its peers by it, so
            it must stay the same across restarts.
        listen: ``host:port`` of the client port.
        store_dir: JetStream's store directory.
        sync_always: fsync every JetStream write (``sync_interval: always``). With
            the default two-minute interval, an OS crash or power loss can lose
            messages already acknowledged (Jepsen's 2025 JetStream analysis).
        http: ``host:port`` of the monitoring endpoint (``/healthz``, ``/jsz``,
            which KEDA's scaler reads), or ``None`` for none.
        cluster: The cluster block of a node in a cluster.
        security: Top-level blocks (``authorization { ... }``, ``accounts { ... }``),
            verbatim. Empty today: NATS authentication is added here.
        max_file_store: JetStream's disk limit (``"10G"``), or ``None`` for the
            server's default (75% of the free disk).
        pid_file: Where the server writes its pid, for ``nats-server --signal``
            (Kubernetes' preStop hook puts it in lame-duck mode).
        lame_duck_duration: How long a stopping server spreads its clients' moves
            to the other nodes (``"30s"``), or ``None`` for the default (2 min).
    """

    server_name: Value
    listen: str
    store_dir: Value
    sync_always: bool = True
    http: str | None = None
    cluster: ClusterConfig | None = None
    security: Sequence[str] = field(default_factory=tuple)
    max_file_store: str | None = None
    pid_file: str | None = None
    lame_duck_duration: str | None = None


def _value(value: Value) -> str:
    # JSON strings are valid NATS config strings and escape paths safely.
    return f"${value.name}" if isinstance(value, EnvRef) else json.dumps(value)


def render_nats_config(config: NatsConfig) -> str:
    """The nats-server configuration file for ``config``."""
    lines = [
        f"server_name: {_value(config.server_name)}",
        f"listen: {_value(config.listen)}",
        f"max_payload: {MAX_PAYLOAD}",
    ]
    if config.http is not None:
        lines.append(f"http: {_value(config.http)}")
    if config.pid_file is not None:
        lines.append(f"pid_file: {_value(config.pid_file)}")
    if config.lame_duck_duration is not None:
        lines.append(f"lame_duck_duration: {_value(config.lame_duck_duration)}")
    lines.append("jetstream {")
    lines.append(f"  store_dir: {_value(config.store_dir)}")
    if config.sync_always:
        lines.append("  sync_interval: always")
    if config.max_file_store is not None:
        lines.append(f"  max_file_store: {config.max_file_store}")
    lines.append("}")
    if config.cluster is not None:
        cluster = config.cluster
        lines.append("cluster {")
        lines.append(f"  name: {_value(cluster.name)}")
        lines.append(f"  listen: {_value(cluster.listen)}")
        lines.extend(f"  {line}" for line in cluster.security)
        lines.append("  routes: [")
        lines.extend(f"    {_value(route)}" for route in cluster.routes)
        lines.append("  ]")
        lines.append("}")
    lines.extend(config.security)
    return "\n".join(lines) + "\n"
