"""Health and metrics of a service run on its own, on ``RAGBUS_METRICS_PORT``.

``GET /healthz`` (liveness) answers 200 while the event loop turns: a task bumps a
timestamp every second, and a loop blocked for ``stall_after_s`` answers 503, so a
wedged process is restarted. ``GET /readyz`` answers 200 once the broker has
started and while its NATS connection is up, and 503 from the moment a drain
begins (SIGTERM), so the supervisor and Kubernetes see a stopping replica at once.
Every other path serves the Prometheus metrics. The server runs in a daemon thread
and only reads flags the event loop sets.
"""

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from ragbus.metrics import MetricsSettings

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes every second would flood the log."""


class Health:
    """What ``/healthz`` and ``/readyz`` report; set from the event loop.

    Attributes:
        stall_after_s: Seconds without a loop tick before ``/healthz`` fails.
    """

    def __init__(self, stall_after_s: float = 30.0) -> None:
        self.stall_after_s = stall_after_s
        self._tick = time.monotonic()
        self._connected: Callable[[], bool] | None = None
        self._draining = False
        self._ticker: asyncio.Task[None] | None = None

    def started(self, connected: Callable[[], bool]) -> None:
        """The broker runs; ``connected`` says whether NATS is reachable now."""
        self._connected = connected
        self._ticker = asyncio.create_task(self._tick_forever())

    def draining(self) -> None:
        """A drain began: not ready any more, for good."""
        self._draining = True
        if self._ticker is not None:
            self._ticker.cancel()

    def live(self) -> bool:
        """The event loop turned recently (or the process is draining)."""
        return self._draining or time.monotonic() - self._tick < self.stall_after_s

    def ready(self) -> bool:
        """Started, connected to NATS and not draining."""
        return not self._draining and self._connected is not None and self._connected()

    async def _tick_forever(self) -> None:
        while True:
            self._tick = time.monotonic()
            await asyncio.sleep(1.0)

    def app(self) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
        """The WSGI app: the two probes, and the metrics on every other path."""
        metrics = make_wsgi_app()

        def serve(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            if path not in ("/healthz", "/readyz"):
                return metrics(environ, start_response)
            ok = self.live() if path == "/healthz" else self.ready()
            body = json.dumps({"status": "ok" if ok else "unavailable"}).encode()
            status = "200 OK" if ok else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json")])
            return [body]

        return serve


def serve_health(health: Health, settings: MetricsSettings | None = None) -> int | None:
    """Serve ``health`` and the metrics on ``RAGBUS_METRICS_PORT`` in a daemon thread.

    Returns:
        The port served, or ``None`` when none is configured.

    Raises:
        OSError: the port is taken.
    """
    settings = settings or MetricsSettings()
    if settings.port is None:
        return None
    server = make_server(
        settings.host,
        settings.port,
        health.app(),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, name="ragbus-health", daemon=True).start()
    log.info("health and metrics served", extra={"port": settings.port})
    return settings.port


def nats_connected(broker: Any) -> Callable[[], bool]:
    """Whether ``broker``'s NATS connection is up (read from another thread)."""

    def connected() -> bool:
        with contextlib.suppress(AttributeError):
            return bool(broker._connection.is_connected)
        return False

    return connected
