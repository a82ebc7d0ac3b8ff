"""HTTP servers a test runs itself: a free port, and an ASGI app served in a thread."""

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(app: Any, *, start_timeout_s: float = 10.0, **config: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port in a daemon thread.

    The server runs its own event loop, so it answers while the test's loop waits
    on it (a fake LLM provider, say).

    Args:
        app: The ASGI app.
        start_timeout_s: How long to wait for the server to accept connections.
        **config: More ``uvicorn.Config`` options, e.g. ``timeout_graceful_shutdown``.

    Yields:
        The server's root URL, ``http://127.0.0.1:<port>``; it stops on exit.
    """
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout_s
        while not server.started:
            assert time.monotonic() < deadline, "the test's HTTP server did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
