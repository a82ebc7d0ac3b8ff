"""Postgres 16 with pgvector from the ``pgserver`` wheel, and small DSN helpers.

pgserver runs ``initdb`` and ``pg_ctl start`` on a data directory and listens on
a unix socket only (no TCP port, so no port clashes). Running as root, it creates
a ``pgserver`` system user, runs Postgres as that user and adds ``o+rx`` to every
parent directory of the data directory so that user can reach it.

A unix socket path is limited to about 107 bytes. pgserver puts the socket in the
data directory when the path fits and otherwise in
``$XDG_RUNTIME_DIR/python_PostgresServer/<hash>`` (``/tmp/runtime-<uid>/...``
when that variable is unset), so long data directories work unchanged.
"""

import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from ragbus_tools.servers.process import StopOnExit

logger = logging.getLogger(__name__)


class PostgresServer(StopOnExit):
    """A running pgserver instance.

    Attributes:
        pgdata: Postgres data directory.
    """

    def __init__(self, pgdata: Path, server: Any) -> None:
        self.pgdata = pgdata
        self._server = server

    @property
    def url(self) -> str:
        """asyncpg DSN of the ``postgres`` database over the unix socket.

        For example ``postgresql://postgres:@/postgres?host=/tmp/x/postgres``.
        """
        return str(self._server.get_uri())

    @property
    def pid(self) -> int | None:
        """Postmaster process id."""
        return self._server.get_pid()

    def stop(self) -> None:
        """Stop Postgres (``pg_ctl stop``); the data directory is kept."""
        self._server.cleanup()
        logger.info("postgres stopped", extra={"pgdata": str(self.pgdata)})


def start_postgres(data_dir: Path) -> PostgresServer:
    """Start (or attach to) Postgres with its data in ``data_dir/postgres``.

    An existing data directory is reused, so data survives restarts. Postgres is
    stopped by :meth:`PostgresServer.stop` or, failing that, when this process
    exits normally; pg_ctl daemonizes it, so a SIGKILLed parent leaves it running
    (the next start on the same directory attaches to it).

    Args:
        data_dir: Parent of the ``postgres`` data directory (created if missing).

    Returns:
        The running server.
    """
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset; harmless here.
        warnings.simplefilter("ignore")
        import pgserver

    pgdata = Path(data_dir).resolve() / "postgres"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = PostgresServer(pgdata, pgserver.get_server(pgdata, cleanup_mode="stop"))
    logger.info("postgres ready", extra={"pgdata": str(pgdata), "pid": server.pid})
    return server


def with_database(url: str, name: str) -> str:
    """Return ``url`` pointing at database ``name`` (query and credentials kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(name, safe="")))


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def ensure_database(url: str, name: str) -> str:
    """Create database ``name`` on the server of ``url`` unless it exists.

    Args:
        url: DSN of any database on the server, by a user allowed to create databases.
        name: Database to create.

    Returns:
        DSN of database ``name``.
    """
    conn = await asyncpg.connect(url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            try:
                await conn.execute(f"CREATE DATABASE {_quote_ident(name)}")
            except asyncpg.DuplicateDatabaseError:
                pass  # created concurrently: the goal is reached
    finally:
        await conn.close()
    return with_database(url, name)


async def drop_database(url: str, name: str) -> None:
    """Drop database ``name`` if it exists, closing its open connections first.

    Args:
        url: DSN of another database on the same server.
        name: Database to drop.
    """
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
    finally:
        await conn.close()


async def has_pgvector(url: str) -> bool:
    """Whether the server of ``url`` can ``CREATE EXTENSION vector``."""
    conn = await asyncpg.connect(url)
    try:
        found = await conn.fetchval("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    finally:
        await conn.close()
    return bool(found)
