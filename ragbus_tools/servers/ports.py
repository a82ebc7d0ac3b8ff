"""Free local TCP ports for the servers ragbus starts from wheels.

Child-process helpers live in :mod:`ragbus_tools.servers.process`.
"""

import contextlib
import socket
from collections.abc import Callable
from typing import TypeVar

# ragbus_tools.servers imports ServerStartError from here too; it is defined with wait_until
from ragbus_tools.servers.process import ServerStartError

T = TypeVar("T")


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Return ``count`` distinct TCP ports that are free right now.

    All sockets stay bound until every port is chosen, so the ports differ. Another
    process may still take one before the server binds it; callers retry on that.
    """
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        return ports


def free_port(host: str = "127.0.0.1") -> int:
    """Return one TCP port that is free right now."""
    return free_ports(1, host)[0]


def port_is_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def retry_port_clash(start: Callable[[], T], *, attempts: int = 3) -> T:
    """Call ``start`` again when its server lost a free port to another process.

    A port from :func:`free_ports` can be taken before the server binds it, so a
    start that failed with "address already in use" is worth another try on new
    ports.

    Args:
        start: Picks free ports, starts the server and returns it.
        attempts: Most calls of ``start``; 1 when the caller fixed the port.

    Returns:
        What ``start`` returned.

    Raises:
        ServerStartError: Every attempt failed, or a failure was not a port clash.
    """
    for attempt in range(attempts):
        try:
            return start()
        except ServerStartError as exc:
            if "address already in use" not in str(exc) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
