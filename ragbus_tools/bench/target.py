"""The stack a benchmark runs against: started here in a temporary directory, or given.

By default nats-server and Postgres are started in this process (so the benchmark
knows the NATS URL for status events and the no-op round trip) and ``ragbus up``
runs as a separate process, so its peak RSS is measured on its own. With
``embed_workers > 1``, extra ``ragbus serve embed`` processes join; Qdrant local
mode admits one opener, so the stack then shares vectors through pgvector.
"""

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from ragbus_tools.servers import free_port, start_nats_server, start_postgres
from ragbus_tools.tenant_keys import tenant_key

log = logging.getLogger(__name__)

_CLI = "from ragbus_tools.cli import main; main()"


@dataclass
class Target:
    """A running stack.

    Attributes:
        url: Gateway URL.
        nats_url: NATS URL, or ``None`` when unknown (a stack given by URL only).
        database_url: Postgres DSN, to make a key per benchmark tenant; ``None`` for a
            stack given by URL without one (then ``api_key`` is its only tenant's).
        api_key: The key of a stack given by URL, when no database is known.
        processes: Label -> process id of every process whose RSS is sampled.
        peak_rss_mb: Label -> highest resident set size seen, in MiB (filled while running).
    """

    url: str
    nats_url: str | None
    database_url: str | None = None
    api_key: str | None = None
    processes: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)


def given_target(url: str, nats_url: str | None) -> Target:
    """A stack started elsewhere, with ``DATABASE_URL`` or ``RAGBUS_API_KEY`` from the
    environment to authenticate (see :func:`key_for`)."""
    return Target(url, nats_url, os.environ.get("DATABASE_URL"), os.environ.get("RAGBUS_API_KEY"))


async def key_for(target: Target, tenant: str) -> str:
    """An admin key of ``tenant`` on ``target``: made in its database, else its given key.

    Raises:
        RuntimeError: neither a database nor a key is known for the target.
    """
    if target.database_url is not None:
        return await tenant_key(target.database_url, tenant)
    if target.api_key is not None:
        return target.api_key
    raise RuntimeError("pass --api-key (or DATABASE_URL) for a stack given by --url")


class RssSampler:
    """Samples the RSS of processes (and their children) every ``interval_s`` in a thread.

    A process tree's RSS is the sum over the process and its descendants, so Postgres
    counts its backends. Peaks are in MiB (2**20 bytes), read by psutil from /proc.
    """

    def __init__(self, target: Target, interval_s: float = 0.25) -> None:
        self._target, self._interval_s = target, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        """Take one sample of every process; gone processes are skipped."""
        for label, pid in self._target.processes.items():
            try:
                root = psutil.Process(pid)
                tree = [root, *root.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in tree if p.is_running())
            except psutil.Error:
                continue
            mb = rss / 2**20
            self._target.peak_rss_mb[label] = max(self._target.peak_rss_mb.get(label, 0.0), mb)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval_s)


async def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 180.0) -> None:
    """Poll ``GET /readyz`` until 200.

    Raises:
        RuntimeError: the process exited first.
        TimeoutError: not ready within ``timeout_s`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with httpx.AsyncClient(base_url=url, timeout=5.0) as http:
        while loop.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"ragbus up exited with {proc.returncode} before it was ready")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.25)
    raise TimeoutError(f"{url}/readyz not ready after {timeout_s} s")


@contextlib.asynccontextmanager
async def started_stack(
    *, embed_workers: int = 1, env: dict[str, str] | None = None, keep_dir: Path | None = None
) -> AsyncIterator[Target]:
    """nats-server and Postgres here, ``ragbus up`` (and extra embed workers) as processes.

    Args:
        embed_workers: Embed consumers in all; more than one switches to pgvector.
        env: Extra environment for the service processes (e.g. ``RAGBUS_EMBED_THREADS``).
        keep_dir: State directory to use; a temporary one, removed after, when ``None``.

    Yields:
        The target, with RSS sampled until the block ends.
    """
    with contextlib.ExitStack() as stack:
        data_dir = keep_dir or Path(stack.enter_context(tempfile.TemporaryDirectory("-bench")))
        nats = await asyncio.to_thread(
            lambda: start_nats_server(data_dir, sync_always=True, authenticated=True)
        )
        stack.callback(nats.stop)
        pg = await asyncio.to_thread(start_postgres, data_dir)
        stack.callback(pg.stop)
        port = free_port()
        child_env = {
            **os.environ,
            "NATS_URL": nats.url,  # each service connects as itself, from the credentials
            "RAGBUS_NATS_CREDENTIALS": str(nats.credentials.path if nats.credentials else ""),
            "DATABASE_URL": pg.url,
            "RAGBUS_DATA_DIR": str(data_dir / "ragbus"),
            "RAGBUS_LOG_LEVEL": "WARNING",
            "RAGBUS_QUOTA_ENABLED": "false",  # a benchmark is the load a quota would cut
            **(env or {}),
        }
        if embed_workers > 1:
            child_env["RAGBUS_VECTOR_STORE"] = "pgvector"
        target = Target(f"http://127.0.0.1:{port}", nats.admin_url, pg.url)
        if nats.pid:
            target.processes["nats-server"] = nats.pid
        if pg.pid:
            target.processes["postgres"] = pg.pid
        procs = [_spawn(["up", "--port", str(port)], child_env, data_dir / "up.log")]
        target.processes["ragbus up (gateway + 4 services)"] = procs[0].pid
        try:
            await wait_ready(target.url, procs[0])
            for n in range(2, embed_workers + 1):
                procs.append(_spawn(["serve", "embed"], child_env, data_dir / f"embed{n}.log"))
                target.processes[f"embed worker {n}"] = procs[-1].pid
            with RssSampler(target):
                yield target
        finally:
            for proc in reversed(procs):
                await asyncio.to_thread(_stop, proc)


def _spawn(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", _CLI, *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _stop(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    proc.terminate()  # SIGTERM: the services drain and the process exits
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        log.warning("process %s did not stop within %s s; killing it", proc.pid, timeout_s)
        proc.kill()
        proc.wait()
